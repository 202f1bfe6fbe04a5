// Cross-entropy forward + backward over logits [N, V] against targets [N] (mean over N), f32: the
// LM-head loss of a training step (N tokens, V vocabulary).
// FLOPs ≈ 6·N·V (logsumexp 3, gradient softmax − onehot 3); bytes 8·N·V (logits read once,
// their gradient written once: what a fused kernel needs).
import { crossEntropy, tensor } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { randomInts, randomValues, tensorRun, type Workload } from '../workload.ts';

/** The loss this workload times. A fused op (tokenLogprobs) replaces this one line when it lands. */
export function crossEntropyLoss(logits: Tensor, targets: Tensor): Tensor {
  return crossEntropy(logits, targets);
}
const IMPL = 'engine crossEntropy on the fused tokenLogprobs kernel (forward: one pass per row; backward: one elementwise pass)';

export function crossEntropyWorkload(tokens: number, vocab: number): Workload {
  return {
    id: `cross_entropy_fwd_bwd_n${tokens}v${vocab}`, suite: 'kernels', op: 'cross_entropy_fwd_bwd', dtype: 'f32',
    shape: { tokens, vocab }, flops: 6 * tokens * vocab, bytes: 8 * tokens * vocab, impl: IMPL, tolerance: 1e-5,
    build(backend) {
      const logits = tensor(randomValues(tokens * vocab, 71, 4), [tokens, vocab], { backend });
      logits.requiresGrad = true;
      const targets = tensor(randomInts(tokens, 72, vocab), [tokens], { dtype: 'i32', backend });
      const run = (): [Tensor, Tensor] => {
        const loss = crossEntropyLoss(logits, targets);
        loss.backward();
        const g = logits.grad!;
        logits.grad = null;
        return [loss, g];
      };
      return {
        ...tensorRun(run),
        dispose: () => { logits.dispose(); targets.dispose(); },
      };
    },
    small: () => crossEntropyWorkload(7, 131),
  };
}
