// The cpu backend: plain TypeScript loops, the reference every GPU kernel is checked against.
// In f64 mode f32 storages hold Float64Array, which gradient checks use for finite differences.
import type {
  AdamWParams, AttentionParams, Backend, BinaryOp, DType, GrpoObjectiveParams, MatmulParams, MemoryStats, ReduceOp, RopeStyle, SampleParams, Storage, UnaryOp, View,
} from '../backend.ts';
import { adamwScalars, checkAdamW, checkGrpoObjective, checkSample, checkAttention, checkLoraLinear, checkRope, checkTokenLogprobs, dtypeBytes } from '../backend.ts';
import { attentionBackwardCpu, attentionForwardCpu } from './attention.ts';
import { binaryFn, binaryI32, sigmoid, unaryFn } from './math.ts';
import { cpuMatmul } from './matmul.ts';
import { sampleRowsCpu } from './sample.ts';
import { grpoObjectiveBackwardCpu, grpoObjectiveCpu } from './grpo-objective.ts';

type Data = Float32Array | Float64Array | Int32Array;

class CpuStorage implements Storage {
  constructor(readonly backend: CpuBackend, readonly data: Data, readonly dtype: DType) {}
  get size() { return this.data.length; }
}

/**
 * Walk every multi-index of `shape` in row-major order. For each run along the last axis, fn gets
 * the flat output index, the run length and each view's starting offset and last-axis stride, so
 * callers loop over the innermost axis without a call per element.
 */
function forEachRun(
  shape: number[],
  views: { offset: number; strides: number[] }[],
  fn: (out: number, len: number, offs: number[], inner: number[]) => void,
) {
  const nd = shape.length;
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return;
  if (nd === 0) { fn(0, 1, views.map((v) => v.offset), views.map(() => 0)); return; }
  const len = shape[nd - 1];
  const inner = views.map((v) => v.strides[nd - 1]);
  const idx = new Array(nd - 1).fill(0);
  const offs = views.map((v) => v.offset);
  for (let out = 0; out < size; out += len) {
    fn(out, len, offs, inner);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      for (let v = 0; v < views.length; v++) offs[v] += views[v].strides[d];
      if (idx[d] < shape[d]) break;
      for (let v = 0; v < views.length; v++) offs[v] -= views[v].strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly description: string;
  private live = 0;
  private liveBytes = 0;
  private peakLiveBytes = 0;

  constructor(readonly precision: 'f32' | 'f64' = 'f32') {
    this.description = `cpu (${precision === 'f64' ? 'float64' : 'float32'})`;
  }

  private alloc(size: number, dtype: DType): CpuStorage {
    let data: Data;
    if (dtype === 'i32') data = new Int32Array(size);
    else if (dtype === 'f32') data = this.precision === 'f64' ? new Float64Array(size) : new Float32Array(size);
    else throw new Error(`cpu backend: dtype ${dtype} is not supported yet (f32 and i32 are)`);
    this.live++;
    this.liveBytes += size * dtypeBytes[dtype];
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    return new CpuStorage(this, data, dtype);
  }

  private d(s: Storage): Data {
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
    return this.d(s).slice();
  }

  free(s: Storage): void {
    this.d(s);
    this.live--;
    this.liveBytes -= s.size * dtypeBytes[s.dtype];
  }

  unary(op: UnaryOp, x: Storage): Storage {
    const xd = this.d(x);
    const dtype: DType = op === 'cast_f32' ? 'f32' : op === 'cast_i32' ? 'i32' : x.dtype;
    const out = this.alloc(xd.length, dtype);
    const f = unaryFn[op];
    const o = out.data;
    for (let i = 0; i < xd.length; i++) o[i] = f(xd[i]);
    return out;
  }

  binary(op: BinaryOp, a: View, b: View, outShape: number[]): Storage {
    const ad = this.d(a.storage), bd = this.d(b.storage);
    const size = outShape.reduce((p, q) => p * q, 1);
    const out = this.alloc(size, a.storage.dtype);
    const f = (a.storage.dtype === 'i32' && binaryI32[op]) || binaryFn[op];
    const o = out.data;
    forEachRun(outShape, [a, b], (i, n, [pa, pb], [sa, sb]) => {
      for (let j = 0; j < n; j++, pa += sa, pb += sb) o[i + j] = f(ad[pa], bd[pb]);
    });
    return out;
  }

  where(cond: View, a: View, b: View, outShape: number[]): Storage {
    const cd = this.d(cond.storage), ad = this.d(a.storage), bd = this.d(b.storage);
    const out = this.alloc(outShape.reduce((p, q) => p * q, 1), a.storage.dtype);
    const o = out.data;
    forEachRun(outShape, [cond, a, b], (i, n, [pc, pa, pb], [sc, sa, sb]) => {
      for (let j = 0; j < n; j++, pc += sc, pa += sa, pb += sb) o[i + j] = cd[pc] !== 0 ? ad[pa] : bd[pb];
    });
    return out;
  }

  copy(src: View, outShape: number[]): Storage {
    const sd = this.d(src.storage);
    const out = this.alloc(outShape.reduce((p, q) => p * q, 1), src.storage.dtype);
    const o = out.data;
    forEachRun(outShape, [src], (i, n, [p], [st]) => {
      for (let j = 0; j < n; j++, p += st) o[i + j] = sd[p];
    });
    return out;
  }

  copyInto(dst: View, src: Storage, shape: number[]): void {
    const dd = this.d(dst.storage), sd = this.d(src);
    forEachRun(shape, [dst], (i, n, [p], [st]) => {
      for (let j = 0; j < n; j++, p += st) dd[p] = sd[i + j];
    });
  }

  reduce(op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage {
    const xd = this.d(x);
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

  sampleTokens(logits: Storage, uniforms: Storage, rows: number, cols: number, p: SampleParams): Storage {
    checkSample(logits, uniforms, rows, cols, p);
    const out = this.alloc(rows, 'i32');
    sampleRowsCpu(this.d(logits), this.d(uniforms), rows, cols, p, out.data as Int32Array);
    return out;
  }

  grpoObjective(logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null,
    p: GrpoObjectiveParams): { loss: Storage; stats: Storage } {
    checkGrpoObjective('grpoObjective', { logp, old, ref, adv, mask, emask }, p);
    const loss = this.alloc(p.B * p.T, 'f32'), stats = this.alloc(p.B * p.T * 3, 'f32');
    grpoObjectiveCpu(this.grpoData(logp, old, ref, adv, mask, emask), p, loss.data, stats.data);
    return { loss, stats };
  }

  grpoObjectiveBackward(logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null,
    grad: Storage, p: GrpoObjectiveParams): Storage {
    checkGrpoObjective('grpoObjectiveBackward', { logp, old, ref, adv, mask, emask, grad }, p);
    const out = this.alloc(p.B * p.T, 'f32');
    grpoObjectiveBackwardCpu(this.grpoData(logp, old, ref, adv, mask, emask), this.d(grad), p, out.data);
    return out;
  }

  private grpoData(lp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null) {
    return { lp: this.d(lp), old: this.d(old), ref: ref && this.d(ref), adv: this.d(adv), mask: this.d(mask), emask: emask && this.d(emask) };
  }

  argmax(x: Storage, outer: number, r: number, inner: number): Storage {
    const xd = this.d(x);
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
    cpuMatmul(this.d(a) as Float32Array | Float64Array, this.d(b) as Float32Array | Float64Array, out.data as Float32Array | Float64Array, p);
    return out;
  }

  loraLinear(x: Storage, w: Storage, bias: Storage | null, a: Storage, b: Storage, scale: number,
    M: number, N: number, K: number, r: number): { y: Storage; xa: Storage } {
    checkLoraLinear(x, w, bias, a, b, scale, M, N, K, r);
    const xd = this.d(x), wd = this.d(w), bd = bias ? this.d(bias) : null, ad = this.d(a), lb = this.d(b);
    const y = this.alloc(M * N, 'f32'), xa = this.alloc(M * r, 'f32');
    const xaRow = new Float64Array(r); // unrounded, so y is exact in f64 mode and rounded once in f32
    for (let i = 0; i < M; i++) {
      const xr = i * K;
      for (let j = 0; j < r; j++) {
        let s = 0;
        for (let l = 0; l < K; l++) s += xd[xr + l] * ad[j * K + l];
        xaRow[j] = s;
        xa.data[i * r + j] = s;
      }
      for (let n = 0; n < N; n++) {
        let base = 0;
        for (let l = 0; l < K; l++) base += xd[xr + l] * wd[n * K + l];
        let low = 0;
        for (let j = 0; j < r; j++) low += xaRow[j] * lb[n * r + j];
        y.data[i * N + n] = base + (bd ? bd[n] : 0) + scale * low;
      }
    }
    return { y, xa };
  }

  gather(table: Storage, idx: Storage, rows: number, cols: number): Storage {
    const td = this.d(table), id = this.d(idx);
    const out = this.alloc(id.length * cols, table.dtype);
    for (let i = 0; i < id.length; i++) {
      const r = id[i];
      if (r < 0 || r >= rows) throw new Error(`gather: index ${r} at position ${i} is out of range [0, ${rows})`);
      out.data.set(td.subarray(r * cols, (r + 1) * cols), i * cols);
    }
    return out;
  }

  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage {
    const sd = this.d(src), id = this.d(idx);
    const out = this.alloc(rows * cols, src.dtype);
    for (let i = 0; i < id.length; i++) {
      const r = id[i];
      for (let c = 0; c < cols; c++) out.data[r * cols + c] += sd[i * cols + c];
    }
    return out;
  }

  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage {
    const xd = this.d(x);
    const out = this.alloc(rows * cols, 'f32');
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, xd[base + c]);
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(xd[base + c] - mx);
      const ls = Math.log(s);
      for (let c = 0; c < cols; c++) {
        out.data[base + c] = log ? xd[base + c] - mx - ls : Math.exp(xd[base + c] - mx) / s;
      }
    }
    return out;
  }

  logsumexp(x: Storage, rows: number, cols: number): Storage {
    const xd = this.d(x);
    const out = this.alloc(rows, 'f32');
    for (let r = 0; r < rows; r++) {
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, xd[r * cols + c]);
      if (mx === -Infinity) { out.data[r] = -Infinity; continue; }
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(xd[r * cols + c] - mx);
      out.data[r] = mx + Math.log(s);
    }
    return out;
  }

  tokenLogprobs(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number | null): { logp: Storage; lse: Storage } {
    checkTokenLogprobs('tokenLogprobs', logits, targets, rows, cols, ignoreIndex);
    const xd = this.d(logits), td = this.d(targets);
    this.checkTargets('tokenLogprobs', td, cols, ignoreIndex);
    const logp = this.alloc(rows, 'f32'), lse = this.alloc(rows, 'f32');
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, xd[base + c]);
      let s = 0;
      if (mx !== -Infinity) for (let c = 0; c < cols; c++) s += Math.exp(xd[base + c] - mx);
      const ls = Math.log(s);
      lse.data[r] = mx === -Infinity ? -Infinity : mx + ls;
      const t = td[r];
      // (x_t − max) − log s: subtracting the max first keeps the digits of large logits.
      logp.data[r] = t === ignoreIndex ? 0 : xd[base + t] - mx - ls;
    }
    return { logp, lse };
  }

  tokenLogprobsBackward(logits: Storage, targets: Storage, lse: Storage, gradLogp: Storage, rows: number, cols: number,
    ignoreIndex: number | null): Storage {
    checkTokenLogprobs('tokenLogprobsBackward', logits, targets, rows, cols, ignoreIndex, [['lse', lse], ['gradLogp', gradLogp]]);
    const xd = this.d(logits), td = this.d(targets), ld = this.d(lse), gd = this.d(gradLogp);
    this.checkTargets('tokenLogprobsBackward', td, cols, ignoreIndex);
    const out = this.alloc(rows * cols, 'f32');
    const o = out.data;
    for (let r = 0; r < rows; r++) {
      const t = td[r];
      if (t === ignoreIndex) continue; // zeros
      const base = r * cols, g = gd[r], l = ld[r];
      for (let c = 0; c < cols; c++) o[base + c] = g * ((c === t ? 1 : 0) - Math.exp(xd[base + c] - l));
    }
    return out;
  }

  private checkTargets(op: string, td: Data, cols: number, ignoreIndex: number | null): void {
    for (let r = 0; r < td.length; r++) {
      const t = td[r];
      if (t !== ignoreIndex && (t < 0 || t >= cols)) {
        throw new Error(`${op}: target ${t} at row ${r} is out of range [0, ${cols})${ignoreIndex === null ? '' : ` and is not ignoreIndex ${ignoreIndex}`}`);
      }
    }
  }

  rmsNorm(x: Storage, weight: Storage | null, rows: number, cols: number, eps: number): Storage {
    const xd = this.d(x), wd = weight ? this.d(weight) : null;
    if (xd.length !== rows * cols) throw new Error(`rmsNorm: x holds ${xd.length} elements, [rows, cols] = [${rows}, ${cols}] needs ${rows * cols}`);
    if (wd && wd.length !== cols) throw new Error(`rmsNorm: weight holds ${wd.length} elements, expected cols = ${cols}`);
    const out = this.alloc(rows * cols, 'f32');
    const o = out.data;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let ss = 0;
      for (let c = 0; c < cols; c++) ss += xd[base + c] * xd[base + c];
      const inv = 1 / Math.sqrt(ss / cols + eps);
      for (let c = 0; c < cols; c++) o[base + c] = xd[base + c] * inv * (wd ? wd[c] : 1);
    }
    return out;
  }

  rope(x: Storage, cos: Storage, sin: Storage, rows: number, T: number, D: number, rotaryDim: number,
    style: RopeStyle, tableBlocks = 1): Storage {
    const xd = this.d(x), cd = this.d(cos), sd = this.d(sin);
    const h = rotaryDim / 2;
    checkRope(xd.length, cd.length, sd.length, rows, T, D, rotaryDim, tableBlocks);
    const out = this.alloc(xd.length, 'f32');
    const o = out.data;
    const perBlock = rows / tableBlocks;
    // Positions of pair i: 'half' pairs features (i, i + h), 'interleaved' (2i, 2i + 1).
    const [aStep, bOff] = style === 'half' ? [1, h] : [2, 1];
    for (let r = 0; r < rows; r++) {
      const tb = Math.floor(r / perBlock) * T;
      for (let t = 0; t < T; t++) {
        const base = (r * T + t) * D, tab = (tb + t) * h;
        for (let i = 0; i < h; i++) {
          const ia = base + i * aStep, ib = ia + bOff;
          const a = xd[ia], b = xd[ib], c = cd[tab + i], s = sd[tab + i];
          o[ia] = a * c - b * s;
          o[ib] = b * c + a * s;
        }
        for (let j = rotaryDim; j < D; j++) o[base + j] = xd[base + j];
      }
    }
    return out;
  }

  swiglu(gate: Storage, up: Storage): Storage {
    const gd = this.d(gate), ud = this.d(up);
    if (gd.length !== ud.length) throw new Error(`swiglu: gate holds ${gd.length} elements but up ${ud.length}`);
    const out = this.alloc(gd.length, 'f32');
    for (let i = 0; i < gd.length; i++) out.data[i] = gd[i] * sigmoid(gd[i]) * ud[i];
    return out;
  }

  attentionForward(q: Storage, k: Storage, v: Storage, segQ: Storage | null, segK: Storage | null,
    p: AttentionParams): { out: Storage; lse: Storage } {
    checkAttention('attentionForward', p, { q, k, v, segQ, segK });
    const out = this.alloc(q.size, 'f32'), lse = this.alloc(p.B * p.H * p.T, 'f32');
    attentionForwardCpu(this.f(q), this.f(k), this.f(v), this.i(segQ), this.i(segK), p, out.data as Float64Array, lse.data as Float64Array);
    return { out, lse };
  }

  attentionBackward(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, dOut: Storage,
    segQ: Storage | null, segK: Storage | null, p: AttentionParams): { dq: Storage; dk: Storage; dv: Storage } {
    checkAttention('attentionBackward', p, { q, k, v, out, lse, dOut, segQ, segK });
    const dq = this.alloc(q.size, 'f32'), dk = this.alloc(k.size, 'f32'), dv = this.alloc(v.size, 'f32');
    attentionBackwardCpu(this.f(q), this.f(k), this.f(v), this.f(out), this.f(lse), this.f(dOut), this.i(segQ), this.i(segK), p,
      dq.data as Float64Array, dk.data as Float64Array, dv.data as Float64Array);
    return { dq, dk, dv };
  }

  private f(s: Storage): Float32Array | Float64Array { return this.d(s) as Float32Array | Float64Array; }
  private i(s: Storage | null): Int32Array | null { return s ? this.d(s) as Int32Array : null; }

  adamw(p: Storage, g: Storage, m: Storage, v: Storage, o: AdamWParams): void {
    const pd = this.d(p), gd = this.d(g), md = this.d(m), vd = this.d(v);
    checkAdamW(p, g, m, v, o);
    const { decay, stepSize, sqrtC2 } = adamwScalars(o);
    const { beta1: b1, beta2: b2, eps } = o;
    for (let i = 0; i < pd.length; i++) {
      const gi = gd[i];
      const mi = b1 * md[i] + (1 - b1) * gi;
      const vi = b2 * vd[i] + (1 - b2) * gi * gi;
      md[i] = mi;
      vd[i] = vi;
      pd[i] = pd[i] * decay - stepSize * mi / (Math.sqrt(vi) / sqrtC2 + eps);
    }
  }

  memoryStats(): MemoryStats {
    return { liveBuffers: this.live, liveBytes: this.liveBytes, peakLiveBytes: this.peakLiveBytes, pooledBuffers: 0, pooledBytes: 0 };
  }

  async sync(): Promise<void> {}
  destroy(): void {}
}

export function createCpuBackend(opts: { precision?: 'f32' | 'f64' } = {}): Backend {
  return new CpuBackend(opts.precision ?? 'f32');
}
