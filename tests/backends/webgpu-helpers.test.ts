// The WebGPU backend's pure helpers (no GPU needed): pool buckets, grid folding, dim collapsing,
// kernel binding declarations.
import { describe, expect, it } from 'vitest';
import { foldGrid } from '../../backends/webgpu/grid.ts';
import { declaredBindings } from '../../backends/webgpu/pipelines.ts';
import { BufferPool, bucketBytes, MIN_BUCKET_BYTES } from '../../backends/webgpu/pool.ts';
import { checkView, collapseDims } from '../../backends/webgpu/views.ts';
import { elementwiseKernel } from '../../kernels/elementwise.ts';
import { add, input, program } from '../../kernels/expr.ts';
import { argmaxKernel } from '../../kernels/argmax.ts';
import { matmulKernel } from '../../kernels/matmul.ts';

describe('pool buckets', () => {
  it('power-of-two buckets up to 1 MiB, then at most 25% slack; size 0 gets the minimum', () => {
    expect(bucketBytes(0)).toBe(MIN_BUCKET_BYTES);
    expect(bucketBytes(4)).toBe(MIN_BUCKET_BYTES);
    expect(bucketBytes(257)).toBe(512);
    expect(bucketBytes(1 << 20)).toBe(1 << 20);
    expect(bucketBytes((1 << 20) + 1)).toBe(1.25 * (1 << 20));
    for (let b = 1; b < 2 ** 31; b = Math.ceil(b * 1.37)) {
      const k = bucketBytes(b);
      expect(k).toBeGreaterThanOrEqual(b);
      expect(k % 16).toBe(0);
      if (b > 1 << 20) expect(k / b).toBeLessThanOrEqual(1.25);
      expect(bucketBytes(k)).toBe(k); // a bucket size maps to itself: freed buffers are found again
    }
  });
});

describe('pool limit', () => {
  // A stand-in device: the pool only calls createBuffer and reads limits.maxBufferSize.
  const device = { limits: { maxBufferSize: 2 ** 40 }, createBuffer: ({ size }: { size: number }) => ({ size }) } as unknown as GPUDevice;

  it('keeps freed buffers up to the limit read at each release, destroys the rest, and hands kept ones back', () => {
    let limit = 1024;
    const destroyed: number[] = [];
    const pool = new BufferPool(device, () => limit, (b) => destroyed.push(b.id));
    const [a, b, c] = [pool.acquire(512), pool.acquire(512), pool.acquire(512)];
    pool.release(a);
    pool.release(b);
    pool.release(c); // 1536 > 1024
    expect(pool.pooledBytes).toBe(1024);
    expect(destroyed).toEqual([c.id]);
    limit = 4096; // the backend raises it with the peak of live bytes
    pool.release(pool.acquire(2048));
    expect(pool.pooledBytes).toBe(3072);
    expect([pool.acquire(512).id, pool.acquire(512).id].sort()).toEqual([a.id, b.id].sort());
  });
});

describe('grid folding', () => {
  it('keeps each dimension within the limit and covers every workgroup', () => {
    expect(foldGrid(1)).toEqual([1, 1]);
    expect(foldGrid(65535)).toEqual([65535, 1]);
    for (const w of [65536, 100_000, 65535 * 3 + 1, 2 ** 31]) {
      const [x, y] = foldGrid(w);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(w);
      expect(x * (y - 1)).toBeLessThan(w); // no empty row of workgroups
    }
    expect(() => foldGrid(65535 * 65535 + 1)).toThrow(/exceed 65535²/);
  });
});

describe('dim collapsing', () => {
  it('merges dims every view walks contiguously and drops size-1 dims', () => {
    const c = collapseDims([2, 3, 4], [{ offset: 5, strides: [12, 4, 1] }, { offset: 0, strides: [0, 0, 1] }]);
    expect(c.shape).toEqual([6, 4]);
    expect(c.views).toEqual([{ offset: 5, strides: [4, 1] }, { offset: 0, strides: [0, 1] }]);
    expect(collapseDims([1, 5, 1], [{ offset: 0, strides: [9, 1, 9] }]).shape).toEqual([5]);
    expect(collapseDims([3, 4], [{ offset: 0, strides: [1, 3] }]).shape).toEqual([3, 4]); // transpose stays
    expect(collapseDims([1, 1], [{ offset: 2, strides: [0, 0] }]).shape).toEqual([]);
  });

  it('checkView names the op and field and reports the reach', () => {
    expect(() => checkView('copy', 'src', { offset: 1, strides: [-2] }, [3], 10))
      .toThrow('webgpu copy: src (offset 1, strides [-2]) over shape [3] reaches elements -3..1, but its storage holds 10');
    expect(() => checkView('copy', 'src', { offset: 0, strides: [1.5] }, [3], 10)).toThrow(/must be integers/);
    expect(() => checkView('copy', 'src', { offset: 99, strides: [1] }, [0], 10)).not.toThrow(); // empty reaches nothing
  });
});

describe('kernel binding declarations', () => {
  it('reads storage access modes and the uniform block from the WGSL', () => {
    expect(declaredBindings(elementwiseKernel(program([add(input(0), input(1))], ['f32', 'f32']), 2, false).code, 'elementwise'))
      .toEqual(['read', 'read', 'read_write', 'uniform']);
    expect(declaredBindings(argmaxKernel('f32', 1, { pairs: true, partial: true }).code, 'argmax'))
      .toEqual(['read', 'read', 'read_write', 'read_write', 'uniform']);
    expect(declaredBindings(matmulKernel({ transA: false, transB: false }).code, 'matmul')).toEqual(['read', 'read', 'read_write', 'uniform']);
    expect(() => declaredBindings('@group(0) @binding(1) var<storage, read> X: array<f32>;', 'gap')).toThrow(/leaves binding 0 undeclared/);
  });
});
