// LoRALinear: gradients against float64 finite differences, PEFT's init and scaling, freezing.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { Linear } from '../../engine/nn/layers.ts';
import { LoRALinear } from '../../engine/nn/lora.ts';
import { applyLoRA, trainableParameters } from '../../engine/nn/apply-lora.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { Generator } from '../../engine/random.ts';
import { checkOp } from '../core/ops/check.ts';
import { testBackends } from '../setup/backends.ts';

const tinyConfig = { hiddenSize: 16, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 4, intermediateSize: 24, vocabSize: 32,
  ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false, attentionBias: false, maxPositions: 64, eosTokenIds: [] };

for (const { name, get } of testBackends()) {
  describe(`LoRA on ${name}`, () => {
    it('LoRALinear forward and gradients (x, W, b, A, B) match float64 finite differences', async () => {
      const backend = await get();
      // The spec builds a LoRALinear around the given tensors on whichever backend checkOp uses.
      await checkOp({
        name: 'lora_linear',
        inputs: [{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [4] }, { shape: [2, 5] }, { shape: [4, 2] }],
        fn: ([x, W, b, A, B]) => {
          const base = new Linear(5, 4, { backend: x.backend, bias: true });
          base.weight.assign(W); base.bias!.assign(b);
          const l = new LoRALinear(base, { r: 2, alpha: 3 }, { generator: new Generator(0) });
          // Route the inputs' autodiff through the layer: use the given tensors as its parameters.
          Object.assign(base, { weight: W, bias: b });
          Object.assign(l, { lora_A: A, lora_B: B });
          return l.forward(x);
        },
      }, backend, 11);
    });

    it('init: A uniform in ±1/√in, B zero, scale alpha/r or alpha/√r; output equals the base layer at init', async () => {
      const backend = await get();
      const base = new Linear(64, 8, { backend });
      base.weight.assign(w.randn([8, 64], { backend, seed: 1 }));
      const l = new LoRALinear(base, { r: 4, alpha: 8 }, { generator: new Generator(3) });
      const a = await l.lora_A.data();
      expect(Math.max(...Array.from(a, Math.abs))).toBeLessThanOrEqual(1 / 8);
      expect(Math.max(...Array.from(a, Math.abs))).toBeGreaterThan(0.1);
      expect(Array.from(await l.lora_B.data()).every((v) => v === 0)).toBe(true);
      expect(l.scale).toBe(2);
      expect(new LoRALinear(base, { r: 4, alpha: 8, rslora: true }, { generator: new Generator(3) }).scale).toBe(4);
      const x = w.randn([3, 64], { backend, seed: 2 });
      // B = 0 adds exact zeros, but on WebGPU a 3-row Linear runs the GEMV kernel and the fused LoRA
      // linear the tiled matmul: the same 64 products summed in another order (f32 rounding only).
      const [got, want] = [Array.from(await l.forward(x).data()), Array.from(await base.forward(x).data())];
      // Bound: 64 terms of size ~1, each partial sum rounded at 2⁻²⁴ relative: 64 · 6e-8 ≈ 4e-6.
      got.forEach((v, i) => expect(Math.abs(v - want[i]), `output ${i}`).toBeLessThanOrEqual(4e-6 + 1e-6 * Math.abs(want[i])));
    });

    it('applyLoRA wraps targets by name and layer range; only LoRA weights get gradients', async () => {
      const backend = await get();
      const model = new LlamaForCausalLM(tinyConfig, { backend });
      const wrapped = applyLoRA(model, { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], layers: [1, 2] });
      expect([...wrapped.keys()]).toEqual([
        'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj',
        'model.layers.2.self_attn.q_proj', 'model.layers.2.self_attn.v_proj',
      ]);
      const trainable = trainableParameters(model).map(([n]) => n);
      expect(trainable).toContain('model.layers.1.self_attn.q_proj.lora_A');
      expect(trainable.every((n) => /lora_[AB]$/.test(n))).toBe(true);
      expect(model.namedParameters().map(([n]) => n)).toContain('model.layers.1.self_attn.q_proj.base_layer.weight');
      for (const [, l] of wrapped) l.lora_B.assign(w.randn(l.lora_B.shape, { backend, seed: 4 }));
      const ids = w.tensor(Int32Array.from([1, 2, 3, 4]), [1, 4], { backend });
      const loss = w.crossEntropy(w.reshape(model.forward(ids), [4, 32]), w.tensor(Int32Array.from([2, 3, 4, 5]), [4], { backend }));
      loss.backward();
      for (const [n, p] of model.namedParameters()) expect(p.grad !== null, n).toBe(/lora_[AB]$/.test(n));
      expect(() => applyLoRA(new LlamaForCausalLM(tinyConfig, { backend }), { r: 2, alpha: 4, targetModules: ['qproj'] })).toThrow(/unknown target module\(s\) qproj/);
    });
  });
}
