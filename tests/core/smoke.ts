// A runtime-level WebGPU check that needs nothing from wgrad: adapter, device, one compute
// dispatch, one readback. Each runner (Node/Dawn, Deno, Chromium) runs it before the core cases,
// so "this runtime has no working WebGPU" is told apart from "a wgrad kernel is wrong".
import { allClose, assert } from './harness.ts';

const N = 100; // not a multiple of the workgroup size, so the bounds check matters

const SHADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&data)) {
    data[id.x] = data[id.x] * 2.0 + f32(id.x);
  }
}`;

export interface SmokeInfo {
  adapter: string; // vendor / architecture / description as the runtime reports them
  features: string[];
}

/** Runs data[i] = 2·data[i] + i on the GPU for data[i] = i/4 and checks the result. */
export async function webgpuSmoke(gpu: GPU): Promise<SmokeInfo> {
  const adapter = await gpu.requestAdapter();
  assert(adapter, 'navigator.gpu.requestAdapter() returned null: no WebGPU adapter in this runtime');
  const device = await adapter.requestDevice();
  try {
    device.pushErrorScope('validation');
    const input = new Float32Array(N).map((_, i) => i / 4);
    const storage = device.createBuffer({
      size: input.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const readback = device.createBuffer({
      size: input.byteLength,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(storage, 0, input);
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: 'main' },
    });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: storage } }],
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(N / 64));
    pass.end();
    enc.copyBufferToBuffer(storage, 0, readback, 0, input.byteLength);
    device.queue.submit([enc.finish()]);
    const err = await device.popErrorScope();
    assert(!err, `WebGPU validation error: ${err?.message}`);
    await readback.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    storage.destroy();
    readback.destroy();
    allClose(out, input.map((x, i) => 2 * x + i), { atol: 0, rtol: 0, label: 'webgpu smoke' });
    const info = adapter.info;
    return {
      adapter: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' / ') || 'unknown',
      features: [...adapter.features].sort(),
    };
  } finally {
    device.destroy();
  }
}
