// Compiled compute pipelines, cached by kernel key (equal keys mean equal WGSL).
//
// Layouts are explicit, read off the kernel's own declarations: storage bindings as declared
// (read → read-only-storage, read_write → storage) and the uniform block with a dynamic offset.
// The dynamic offset lets the recorder reuse one bind group for every dispatch over the same
// buffers, whatever its parameters (bind group creation is the costliest call per dispatch).
//
// Compilation errors arrive asynchronously through an error scope; they are collected here and
// thrown by the next read() or sync(), naming the kernel.

export type BindingKind = 'read' | 'read_write' | 'uniform';

export interface PipelineEntry {
  id: number;
  key: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Binding kinds by binding number. */
  bindings: BindingKind[];
}

const DECL = /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(storage|uniform)\s*(?:,\s*(read|read_write)\s*)?>/g;

/** Bindings of group 0 as the WGSL declares them (all kernels here use group 0 only). */
export function declaredBindings(code: string, key: string): BindingKind[] {
  const out: BindingKind[] = [];
  for (const m of code.matchAll(DECL)) {
    out[Number(m[1])] = m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'read_write' : 'read';
  }
  for (let i = 0; i < out.length; i++) {
    if (!out[i]) throw new Error(`webgpu backend: kernel '${key}' leaves binding ${i} undeclared`);
  }
  if (out.filter((k) => k === 'uniform').length > 1 || (out.includes('uniform') && out[out.length - 1] !== 'uniform')) {
    throw new Error(`webgpu backend: kernel '${key}' must have at most one uniform block, as its last binding`);
  }
  return out;
}

export class PipelineCache {
  private readonly map = new Map<string, PipelineEntry>();
  private checks: Promise<void>[] = [];
  private readonly errors: Error[] = [];

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string, code: string): PipelineEntry {
    const hit = this.map.get(key);
    if (hit) return hit;
    const bindings = declaredBindings(code, key);
    this.device.pushErrorScope('validation');
    const layout = this.device.createBindGroupLayout({
      label: key,
      entries: bindings.map((kind, binding) => ({
        binding,
        visibility: 4 /* GPUShaderStage.COMPUTE */,
        buffer: kind === 'uniform'
          ? { type: 'uniform' as const, hasDynamicOffset: true }
          : { type: kind === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
      })),
    });
    const module = this.device.createShaderModule({ code, label: key });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    this.checks.push(
      this.device.popErrorScope().then((err) => {
        if (err) this.errors.push(new Error(`webgpu backend: kernel '${key}' failed to build: ${err.message}`));
      }),
    );
    const entry = { id: this.map.size, key, pipeline, layout, bindings };
    this.map.set(key, entry);
    return entry;
  }

  /** Wait for outstanding compilation checks; throw the first failure. */
  async check(): Promise<void> {
    const pending = this.checks;
    this.checks = [];
    await Promise.all(pending);
    if (this.errors.length > 0) throw this.errors[0];
  }
}
