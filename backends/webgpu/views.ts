// Shape/stride bookkeeping for strided kernels: validation with errors that name the op and field,
// and dimension collapsing so kernels see the smallest rank that describes the same walk.
import { stridedValues } from '../../kernels/wgsl.ts';

export interface StridedView {
  offset: number;
  strides: number[];
}

export function numel(shape: number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function checkShape(op: string, field: string, shape: number[]): void {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) {
      throw new Error(`webgpu ${op}: ${field} [${shape.join(', ')}] must hold non-negative integers`);
    }
  }
}

/** Every element the view reaches over `shape` must lie inside a storage of `size` elements. */
export function checkView(op: string, field: string, v: StridedView, shape: number[], size: number): void {
  if (v.strides.length !== shape.length) {
    throw new Error(
      `webgpu ${op}: ${field} has ${v.strides.length} strides [${v.strides.join(', ')}] but the shape ` +
        `[${shape.join(', ')}] has ${shape.length} dims`,
    );
  }
  if (!Number.isInteger(v.offset) || v.strides.some((s) => !Number.isInteger(s))) {
    throw new Error(`webgpu ${op}: ${field} offset ${v.offset} and strides [${v.strides.join(', ')}] must be integers`);
  }
  if (numel(shape) === 0) return;
  let lo = v.offset, hi = v.offset;
  shape.forEach((s, d) => {
    const reach = (s - 1) * v.strides[d];
    if (reach < 0) lo += reach;
    else hi += reach;
  });
  if (lo < 0 || hi >= size) {
    throw new Error(
      `webgpu ${op}: ${field} (offset ${v.offset}, strides [${v.strides.join(', ')}]) over shape ` +
        `[${shape.join(', ')}] reaches elements ${lo}..${hi}, but its storage holds ${size}`,
    );
  }
}

/**
 * Drop size-1 dims and merge neighbours that every view walks contiguously
 * (stride[d-1] = stride[d] · shape[d]). The walk order, and so the output layout, is unchanged.
 */
export function collapseDims(shape: number[], views: StridedView[]): { shape: number[]; views: StridedView[] } {
  const outShape: number[] = [];
  const outStrides: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && views.every((v, i) => outStrides[i][last] === v.strides[d] * shape[d])) {
      outShape[last] *= shape[d];
      views.forEach((v, i) => (outStrides[i][last] = v.strides[d]));
    } else {
      outShape.push(shape[d]);
      views.forEach((v, i) => outStrides[i].push(v.strides[d]));
    }
  }
  return { shape: outShape, views: views.map((v, i) => ({ offset: v.offset, strides: outStrides[i] })) };
}

/**
 * The same walk in units of vec4 when that is exact: the innermost dim is contiguous (stride 1) in
 * every view and a multiple of 4 long, and every offset and outer stride is a multiple of 4, so
 * each group of 4 consecutive outputs reads 4 consecutive, 16-byte aligned inputs. Else null.
 */
export function vec4Views(shape: number[], views: StridedView[]): { shape: number[]; views: StridedView[] } | null {
  const last = shape.length - 1;
  if (last < 0 || shape[last] % 4 !== 0) return null;
  for (const v of views) {
    if (v.strides[last] !== 1 || v.offset % 4 !== 0) return null;
    for (let d = 0; d < last; d++) if (v.strides[d] % 4 !== 0) return null;
  }
  return {
    shape: shape.map((s, d) => (d === last ? s / 4 : s)),
    views: views.map((v) => ({ offset: v.offset / 4, strides: v.strides.map((s, d) => (d === last ? 1 : s / 4)) })),
  };
}

/** What a strided kernel launch needs: its rank, whether it runs on vec4s, and its uniform values. */
export interface StridedLaunch {
  rank: number;
  vec4: boolean;
  values: Record<string, number>;
}

/**
 * Validate views over outShape, collapse dims, and switch to vec4 units when every view allows
 * it (the output is contiguous and offset 0, so it only needs the shape to qualify). Null when
 * there is nothing to compute.
 */
export function stridedLaunch(op: string, outShape: number[], views: { name: string; view: StridedView; size: number }[]): StridedLaunch | null {
  checkShape(op, 'outShape', outShape);
  for (const { name, view, size } of views) checkView(op, name, view, outShape, size);
  if (numel(outShape) === 0) return null;
  const collapsed = collapseDims(outShape, views.map((v) => v.view));
  const v4 = vec4Views(collapsed.shape, collapsed.views);
  const { shape, views: cv } = v4 ?? collapsed;
  const values = stridedValues(shape, cv.map((v, i) => ({ name: views[i].name, offset: v.offset, strides: v.strides })));
  return { rank: shape.length, vec4: v4 !== null, values };
}
