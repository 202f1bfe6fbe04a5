// Engine-level core cases: a spec from every op family (forward vs float64 cpu, gradient vs
// float64 finite differences), autodiff, a flat-memory training loop and error messages.
// They run in Node, Deno and Chromium on cpu and WebGPU.
import * as w from '../../../engine/index.ts';
import { checkOp } from '../ops/check.ts';
import { testSeed } from '../ops/seed.ts';
import { allSpecs } from '../ops/specs.ts';
import { assert, assertThrows, type CoreCase } from '../harness.ts';

const picked = [
  'exp [129]', 'gelu_erf [129]', 'logsigmoid [129]', 'mul [3,1]·[1,17]', 'div [2,3,4]·[4]', 'maximum [3,17]·[3,17]',
  'lt i32 broadcast', 'where broadcast', 'i32 arithmetic', 'sum axes [0,2] (non-contiguous)', 'max axis -1',
  'logsumexp -1', 'argmax -1', 'permute 3-d', 'slice with step', 'concat axis 1', 'broadcastTo',
  'matmul transA transB', 'matmul batch broadcast [2,1,3,4]·[3,4,2]', 'embedding repeated ids',
  'softmax -1', 'cross_entropy ignore_index', 'rms_norm', 'layer_norm', 'rope half', 'rope interleaved',
];

const opCases: CoreCase[] = picked.map((name) => {
  const spec = allSpecs.find((s) => s.name === name);
  if (!spec) throw new Error(`core cases: no op spec named ${name}`);
  return { name: `op: ${name}`, run: ({ backend }) => checkOp(spec, backend, testSeed()) };
});

export const engineCases: CoreCase[] = [
  ...opCases,
  {
    name: 'engine: 50 SGD steps keep live buffers flat and lower the loss',
    async run({ backend }) {
      const W = w.randn([4, 1], { backend, seed: 5 });
      const x = w.randn([16, 4], { backend, seed: 6 });
      const y = w.matmul(x, w.tensor([[1], [-2], [0.5], [3]], undefined, { backend }));
      W.requiresGrad = true;
      const counts = new Set<number>();
      let first = 0, last = 0;
      for (let step = 0; step < 50; step++) {
        const loss = w.tidy(() => {
          const l = w.mean(w.square(w.sub(w.matmul(x, W), y)));
          l.backward();
          w.noGrad(() => { W.assign(w.sub(W, w.mul(W.grad!, 0.1))); W.zeroGrad(); });
          return l;
        });
        if (step === 0) first = await loss.item();
        if (step === 49) last = await loss.item();
        loss.dispose();
        if (step > 0) counts.add(backend.memoryStats().liveBuffers);
      }
      assert(counts.size === 1, `live buffers changed across steps: ${[...counts]}`);
      assert(last < first * 0.1, `loss did not fall: ${first} → ${last}`);
      w.dispose([W, x, y]);
    },
  },
  {
    name: 'engine: errors name the op and the shapes',
    async run({ backend }) {
      const a = w.zeros([2, 3], { backend });
      await assertThrows(() => w.add(a, w.zeros([4], { backend })), 'add: shapes [2, 3] and [4] cannot be broadcast');
      await assertThrows(() => w.embedding(a, w.tensor(Int32Array.from([2]), [1], { backend })), 'embedding: index 2 at position 0 is out of range');
      a.dispose();
    },
  },
];
