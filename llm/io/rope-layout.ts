// Two ways to lay out the rows of q_proj / k_proj for RoPE:
//  - interleaved (Meta's original Llama and llama2.c): each head rotates pairs (x[2i], x[2i+1]);
//  - rotate_half (Hugging Face LlamaModel): each head rotates (x[i], x[i + head_dim/2]).
// They are the same model once the projection's output rows are permuted within each head, which
// is what transformers' convert_llama_weights_to_hf.py does:
//   w.view(n_heads, head_dim/2, 2, in).transpose(1, 2).reshape(n_heads*head_dim, in)
// i.e. new row h*hd + j*hd/2 + i  <-  old row h*hd + 2i + j   (j in {0,1}, i < hd/2).

export type RopeLayout = 'interleaved' | 'rotate_half';

function permuteRows(
  w: Float32Array,
  nHeads: number,
  cols: number,
  toRotateHalf: boolean,
): Float32Array {
  const rows = w.length / cols;
  if (!Number.isInteger(rows) || rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) {
    throw new Error(`RoPE row permutation: ${w.length} values are not [n_heads=${nHeads} x even head_dim, ${cols}]`);
  }
  const hd = rows / nHeads;
  const half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const interleavedRow = h * hd + 2 * i + j;
        const halfRow = h * hd + j * half + i;
        const [src, dst] = toRotateHalf ? [interleavedRow, halfRow] : [halfRow, interleavedRow];
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** Interleaved-pair rows -> rotate-half rows (llama2.c / Meta -> Hugging Face). `w` is [nHeads*headDim, cols]. */
export function interleavedToRotateHalf(w: Float32Array, nHeads: number, cols: number): Float32Array {
  return permuteRows(w, nHeads, cols, true);
}

/** Rotate-half rows -> interleaved-pair rows (Hugging Face -> llama2.c / Meta); inverse of the above. */
export function rotateHalfToInterleaved(w: Float32Array, nHeads: number, cols: number): Float32Array {
  return permuteRows(w, nHeads, cols, false);
}
