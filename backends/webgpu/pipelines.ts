// Compiled compute pipelines, cached by kernel key (equal keys mean equal WGSL). Compilation errors
// arrive asynchronously through an error scope; they are collected here and thrown by the next
// read() or sync(), naming the kernel.

export interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
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
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: key });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    const entry = { pipeline, layout: pipeline.getBindGroupLayout(0) };
    this.checks.push(
      this.device.popErrorScope().then((err) => {
        if (err) this.errors.push(new Error(`webgpu backend: kernel '${key}' failed to build: ${err.message}`));
      }),
    );
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
