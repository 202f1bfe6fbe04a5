// The cpu backend: plain TypeScript loops, the reference every GPU kernel is checked against.
// In f64 mode f32 storages hold Float64Array, which gradient checks use for finite differences.
import type { Backend, DType, MatmulParams, MemoryStats, ReduceOp, Storage, View } from '../backend.ts';
import { dtypeBytes } from '../backend.ts';
import type { CpuData as Data, CpuRoutineContext, Routine } from '../routine.ts';
import type { Program } from '../../kernels/expr.ts';
import { evalProgram } from './elementwise.ts';
import { forEachRun } from './strided.ts';
import { cpuMatmul } from './matmul.ts';
import { roundToF16 } from '../../kernels/matmul-mma.ts';
import { parseMatmulPrecision, type MatmulPrecision } from '../routine.ts';

class CpuStorage implements Storage {
  constructor(readonly backend: CpuBackend, readonly data: Data, readonly dtype: DType) {}
  get size() { return this.data.length; }
}

export class CpuBackend implements Backend, CpuRoutineContext {
  readonly name = 'cpu' as const;
  readonly description: string;
  private live = 0;
  private liveBytes = 0;
  private peakLiveBytes = 0;

  constructor(readonly precision: 'f32' | 'f64' = 'f32', readonly matmulPrecision: MatmulPrecision = 'f32') {
    this.description = `cpu (${precision === 'f64' ? 'float64' : 'float32'}${matmulPrecision === 'f16' ? ', matmul operands rounded to f16' : ''})`;
  }

  alloc(size: number, dtype: DType): CpuStorage {
    let data: Data;
    if (dtype === 'i32') data = new Int32Array(size);
    else if (dtype === 'f32') data = this.precision === 'f64' ? new Float64Array(size) : new Float32Array(size);
    else throw new Error(`cpu backend: dtype ${dtype} is not supported (f32 and i32 are)`);
    this.live++;
    this.liveBytes += size * dtypeBytes[dtype];
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    return new CpuStorage(this, data, dtype);
  }

  data(s: Storage): Data {
    if (!(s instanceof CpuStorage) || s.backend !== this) throw new Error('cpu backend: storage belongs to another backend');
    return s.data;
  }

  upload(data: ArrayLike<number>, dtype: DType): Storage {
    const s = this.alloc(data.length, dtype);
    s.data.set(data as ArrayLike<number>);
    return s;
  }

  fill(size: number, value: number, dtype: DType): Storage {
    const s = this.alloc(size, dtype);
    s.data.fill(value);
    return s;
  }

  async read(s: Storage): Promise<Data> {
    return this.data(s).slice();
  }

  free(s: Storage): void {
    this.data(s);
    this.live--;
    this.liveBytes -= s.size * dtypeBytes[s.dtype];
  }

  elementwise(prog: Program, inputs: View[], outShape: number[]): Storage[] {
    const views = inputs.map((v) => ({ data: this.data(v.storage), offset: v.offset, strides: v.strides }));
    const n = outShape.reduce((p, q) => p * q, 1);
    const outs = prog.outputs.map((id) => this.alloc(n, prog.nodes[id].t));
    evalProgram(prog, views, outShape, outs.map((o) => o.data));
    return outs;
  }

  copy(src: View, outShape: number[]): Storage {
    const sd = this.data(src.storage);
    const out = this.alloc(outShape.reduce((p, q) => p * q, 1), src.storage.dtype);
    const o = out.data;
    forEachRun(outShape, [src], (i, n, [p], [st]) => {
      for (let j = 0; j < n; j++, p += st) o[i + j] = sd[p];
    });
    return out;
  }

  copyInto(dst: View, src: Storage, shape: number[]): void {
    const dd = this.data(dst.storage), sd = this.data(src);
    forEachRun(shape, [dst], (i, n, [p], [st]) => {
      for (let j = 0; j < n; j++, p += st) dd[p] = sd[i + j];
    });
  }

  reduce(op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage {
    const xd = this.data(x);
    const out = this.alloc(outer * inner, x.dtype);
    const o = out.data;
    const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
    for (let a = 0; a < outer; a++) {
      for (let c = 0; c < inner; c++) {
        let acc = init;
        let base = a * r * inner + c;
        for (let j = 0; j < r; j++, base += inner) {
          const v = xd[base];
          if (op === 'sum') acc += v;
          else if (Number.isNaN(v) || Number.isNaN(acc)) acc = NaN;
          else acc = op === 'max' ? (v > acc ? v : acc) : (v < acc ? v : acc);
        }
        o[a * inner + c] = acc;
      }
    }
    return out;
  }

  argmax(x: Storage, outer: number, r: number, inner: number): Storage {
    const xd = this.data(x);
    const out = this.alloc(outer * inner, 'i32');
    for (let a = 0; a < outer; a++) {
      for (let c = 0; c < inner; c++) {
        let best = -Infinity, bi = 0;
        for (let j = 0; j < r; j++) {
          const v = xd[(a * r + j) * inner + c];
          if (v > best) { best = v; bi = j; } // first maximum wins, as torch.argmax
        }
        out.data[a * inner + c] = bi;
      }
    }
    return out;
  }

  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    const out = this.alloc(p.batch * p.m * p.n, 'f32');
    cpuMatmul(this.data(a) as Float32Array | Float64Array, this.data(b) as Float32Array | Float64Array, out.data as Float32Array | Float64Array, p,
      this.matmulPrecision === 'f16' ? roundToF16 : undefined);
    return out;
  }

  gather(table: Storage, idx: Storage, rows: number, cols: number): Storage {
    const td = this.data(table), id = this.data(idx);
    const out = this.alloc(id.length * cols, table.dtype);
    for (let i = 0; i < id.length; i++) {
      const r = id[i];
      if (r < 0 || r >= rows) throw new Error(`gather: index ${r} at position ${i} is out of range [0, ${rows})`);
      out.data.set(td.subarray(r * cols, (r + 1) * cols), i * cols);
    }
    return out;
  }

  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage {
    const sd = this.data(src), id = this.data(idx);
    const out = this.alloc(rows * cols, src.dtype);
    for (let i = 0; i < id.length; i++) {
      const r = id[i];
      for (let c = 0; c < cols; c++) out.data[r * cols + c] += sd[i * cols + c];
    }
    return out;
  }

  run<A extends unknown[], R>(routine: Routine<A, R>, ...args: A): R {
    routine.assert(...args);
    return routine.cpu(this, ...args);
  }

  resetPeakMemory(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  memoryStats(): MemoryStats {
    return { liveBuffers: this.live, liveBytes: this.liveBytes, peakLiveBytes: this.peakLiveBytes, pooledBuffers: 0, pooledBytes: 0 };
  }

  async sync(): Promise<void> {}
  destroy(): void {}
}

/**
 * matmulPrecision 'f16' emulates the WebGPU backend's matrix-unit matmuls (kernels/matmul-mma.ts):
 * every product's operands rounded to f16, sums exact. It rounds every product, including the few
 * shapes the GPU keeps in f32 (few rows, split-K, sides under 32 or not multiples of 4), so it bounds the effect.
 */
export function createCpuBackend(opts: { precision?: 'f32' | 'f64'; matmulPrecision?: MatmulPrecision } = {}): Backend {
  return new CpuBackend(opts.precision ?? 'f32', parseMatmulPrecision(opts.matmulPrecision ?? 'f32', 'cpu'));
}
