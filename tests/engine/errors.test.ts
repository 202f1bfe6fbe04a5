// Bad input: errors name the op, the shapes or dtypes, and what was expected.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { testBackends } from '../setup/backends.ts';

for (const { name, get } of testBackends().filter((b) => b.name !== 'cpu-f64')) {
  describe(`errors on ${name}`, () => {
    it('shape mismatches', async () => {
      const backend = await get();
      const a = w.zeros([2, 3], { backend }), b = w.zeros([4], { backend });
      expect(() => w.add(a, b)).toThrow('add: shapes [2, 3] and [4] cannot be broadcast (dimension -1: 3 vs 4)');
      expect(() => w.matmul(a, w.zeros([4, 5], { backend }))).toThrow(/matmul: inner dimensions differ: a \[2, 3\] has k=3, b \[4, 5\] has k=4/);
      expect(() => w.reshape(a, [4, 2])).toThrow(/reshape: cannot view f32\[2, 3\] \(6 elements\) as \[4, 2\]/);
      expect(() => w.concat([a, b])).toThrow(/concat: f32\[4\] does not match f32\[2, 3\]/);
      expect(() => w.sum(a, 2)).toThrow(/sum: axis 2 is out of range for a tensor with 2 dimensions/);
      expect(() => w.permute(a, [0, 0])).toThrow(/permute: \[0,0\] is not a permutation/);
      expect(() => w.tensor([1, 2, 3], [2, 2], { backend })).toThrow(/3 values do not fill shape \[2, 2\]/);
    });

    it('wrong dtypes', async () => {
      const backend = await get();
      const i = w.tensor(Int32Array.from([1, 2]), [2], { backend });
      const f = w.zeros([2], { backend });
      expect(() => w.exp(i)).toThrow('exp: expected a float tensor (f32), got i32[2]');
      expect(() => w.add(i, f)).toThrow(/add: dtypes differ \(i32\[2\] and f32\[2\]\)/);
      expect(() => w.embedding(f, f)).toThrow(/embedding: indices must be i32, got f32\[2\]/);
      expect(() => w.crossEntropy(w.zeros([2, 3], { backend }), f)).toThrow(/cross_entropy: targets must be i32 of shape \[2\]/);
    });

    it('out-of-range indices', async () => {
      const backend = await get();
      const table = w.zeros([5, 3], { backend });
      expect(() => w.embedding(table, w.tensor(Int32Array.from([0, 5]), [2], { backend })))
        .toThrow('embedding: index 5 at position 1 is out of range for table [5, 3] (expected 0 ≤ index < 5)');
      expect(() => w.crossEntropy(w.zeros([2, 4], { backend }), w.tensor(Int32Array.from([1, -3]), [2], { backend })))
        .toThrow('cross_entropy: target -3 at position 1 is out of range for a vocabulary of 4 (expected 0 ≤ target < 4)');
      expect(() => w.tokenLogprobs(w.zeros([2, 4], { backend }), w.tensor(Int32Array.from([-100, 4]), [2], { backend }), { ignoreIndex: -100 }))
        .toThrow('token_logprobs: target 4 at position 1 is out of range for a vocabulary of 4 (expected 0 ≤ target < 4 or target = ignoreIndex -100)');
    });

    it('tensors on different backends', async () => {
      const backend = await get();
      const other = (await import('../../backends/cpu/index.ts')).createCpuBackend();
      expect(() => w.add(w.zeros([2], { backend }), w.zeros([2], { backend: other }))).toThrow(/add: tensors live on different backends/);
    });
  });
}
