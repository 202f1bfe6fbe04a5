// Raw WebGPU for the kernel benchmark and kernel tests: open a device with the adapter's limits,
// move buffers, and time dispatches (GPU timestamps when the adapter has them, else wall clock).
// Works in Node (npm `webgpu` = Dawn), Deno and browsers (navigator.gpu).

export interface GpuContext {
  device: GPUDevice;
  adapterName: string; // "vendor architecture device description" as the adapter reports it
  features: string[];
  timestamps: boolean; // timestamp-query is enabled on the device
  toggles: string[]; // Dawn toggles asked for (Node only)
  close(): void;
}

export interface OpenGpuOptions {
  /** Extra Dawn toggles (Node only), e.g. 'disable_robustness' for experiments. */
  enableToggles?: string[];
  /** Turn timestamp quantisation off where Dawn allows it (Node only; needs allow_unsafe_apis). */
  preciseTimestamps?: boolean;
}

interface NodeGpu { gpu: GPU; dispose(): void }

async function nodeGpu(toggles: string[], disable: string[]): Promise<NodeGpu> {
  const mod = 'webgpu'; // a variable keeps bundlers for the browser from resolving it
  const webgpu = await import(/* @vite-ignore */ mod) as {
    create(flags: string[]): GPU; globals: Record<string, unknown>;
  };
  Object.assign(globalThis, webgpu.globals);
  // WEBGPU_DAWN_FLAGS (set by .gpu/remote-env.sh) holds e.g. 'enable-dawn-features=a,b'.
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const enable = new Set<string>(toggles), off = new Set<string>(disable), other: string[] = [];
  for (const f of (env.WEBGPU_DAWN_FLAGS ?? '').split(' ').filter(Boolean)) {
    const [k, v] = f.split('=');
    if (k === 'enable-dawn-features') v.split(',').forEach((t) => enable.add(t));
    else if (k === 'disable-dawn-features') v.split(',').forEach((t) => off.add(t));
    else other.push(f);
  }
  const flags = [...other];
  if (enable.size) flags.push(`enable-dawn-features=${[...enable].join(',')}`);
  if (off.size) flags.push(`disable-dawn-features=${[...off].join(',')}`);
  let gpu: GPU | undefined = webgpu.create(flags);
  return { gpu, dispose: () => { gpu = undefined; } };
}

export async function openGpu(opts: OpenGpuOptions = {}): Promise<GpuContext> {
  const toggles = [...(opts.enableToggles ?? [])];
  let gpu: GPU | undefined = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  let dispose = () => {};
  if (!gpu) {
    if (opts.preciseTimestamps) toggles.push('allow_unsafe_apis');
    const n = await nodeGpu(toggles, opts.preciseTimestamps ? ['timestamp_quantization'] : []);
    gpu = n.gpu;
    dispose = n.dispose;
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('openGpu: no WebGPU adapter (on a CPU machine set VK_ICD_FILENAMES to SwiftShader)');
  const info = adapter.info;
  const adapterName = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  const timestamps = adapter.features.has('timestamp-query');
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: timestamps ? ['timestamp-query'] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    },
  });
  device.addEventListener('uncapturederror', (e) => {
    console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  return {
    device, adapterName, features: [...adapter.features], timestamps, toggles,
    close: () => { device.destroy(); dispose(); },
  };
}

export function uploadF32(device: GPUDevice, data: Float32Array, extraUsage = 0): GPUBuffer {
  const buf = device.createBuffer({
    size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    mappedAtCreation: true,
  });
  new Float32Array(buf.getMappedRange(), 0, data.length).set(data);
  buf.unmap();
  return buf;
}

export function storageBuffer(device: GPUDevice, bytes: number): GPUBuffer {
  return device.createBuffer({
    size: Math.max(16, Math.ceil(bytes / 16) * 16),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
}

export function uniformBuffer(device: GPUDevice, data: Uint32Array): GPUBuffer {
  const buf = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, new Uint32Array(data)); // a copy typed over a plain ArrayBuffer
  return buf;
}

export async function readF32(device: GPUDevice, src: GPUBuffer, count: number, offsetElems = 0): Promise<Float32Array> {
  const bytes = count * 4;
  const staging = device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offsetElems * 4, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/** Compile a compute pipeline, surfacing WGSL errors with the kernel's name. */
export async function computePipeline(device: GPUDevice, code: string, label: string): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ code, label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    throw new Error(`${label}: WGSL compile failed:\n` + errors.map((m) => `  line ${m.lineNum}:${m.linePos} ${m.message}`).join('\n'));
  }
  device.pushErrorScope('validation');
  // Synchronous creation: on SwiftShader the async path took twice as long for the same shader.
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
  const err = await device.popErrorScope();
  if (err) throw new Error(`${label}: pipeline creation failed: ${err.message}`);
  return pipeline;
}

/** One dispatch: a pipeline, its bind group and its workgroup counts. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number, number];
}

export function encodeDispatches(pass: GPUComputePassEncoder, ds: Dispatch[]): void {
  for (const d of ds) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.groups);
  }
}

export interface Timing {
  medianMs: number; // per repetition of `work`
  minMs: number;
  samples: number[]; // per repetition, ms
  inner: number; // repetitions of `work` per sample
  method: 'timestamp-query' | 'wall-clock';
}

/**
 * Time `work` (a list of dispatches): warm up, then `samples` samples of `inner` back-to-back
 * repetitions each; inner is chosen so one sample lasts ≥ targetMs. Median per repetition.
 */
export async function timeDispatches(ctx: GpuContext, work: Dispatch[],
  o: { samples?: number; warmup?: number; targetMs?: number; maxInner?: number } = {}): Promise<Timing> {
  const { device } = ctx;
  const samples = o.samples ?? 10, warmup = o.warmup ?? 2, targetMs = o.targetMs ?? 2;
  const wall = async (inner: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < inner; i++) encodeDispatches(pass, work);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  for (let i = 0; i < warmup; i++) await wall(1);
  // Calibrate: wall-clock over 1 repetition includes submit latency, so it overestimates: fine for sizing.
  const one = Math.min(await wall(1), await wall(1));
  const inner = Math.max(1, Math.min(o.maxInner ?? 200, Math.ceil(targetMs / Math.max(one, 1e-3))));
  const per: number[] = [];
  if (ctx.timestamps) {
    const qs = device.createQuerySet({ type: 'timestamp', count: 2 * samples });
    const resolve = device.createBuffer({ size: 16 * samples, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: 16 * samples, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    for (let s = 0; s < samples; s++) {
      const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * s, endOfPassWriteIndex: 2 * s + 1 } });
      for (let i = 0; i < inner; i++) encodeDispatches(pass, work);
      pass.end();
    }
    enc.resolveQuerySet(qs, 0, 2 * samples, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * samples);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ts = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    for (let s = 0; s < samples; s++) per.push(Number(ts[2 * s + 1] - ts[2 * s]) / 1e6 / inner);
    qs.destroy(); resolve.destroy(); read.destroy();
  }
  // Timestamps of 0 or negative spans (quantised or unsupported) fall back to the wall clock.
  const method: Timing['method'] = per.length && per.every((x) => x > 0) ? 'timestamp-query' : 'wall-clock';
  if (method === 'wall-clock') {
    per.length = 0;
    for (let s = 0; s < samples; s++) per.push((await wall(inner)) / inner);
  }
  const sorted = [...per].sort((a, b) => a - b);
  return { medianMs: median(sorted), minMs: sorted[0], samples: per, inner, method };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
