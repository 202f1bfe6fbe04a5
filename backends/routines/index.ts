// The named routines of the Backend (Backend.run): each declared once, in the file beside its kernel.
export { adamw, adamwMulti, type AdamWParams } from './adamw.ts';
export { attentionBackward, attentionForward, type AttentionParams } from './attention.ts';
export { gradNormScale } from './grad-norm.ts';
export { grpoObjective, grpoObjectiveBackward, type GrpoObjectiveParams } from './grpo-objective.ts';
export { loraLinear } from './lora-linear.ts';
export { rmsNorm } from './rmsnorm.ts';
export { rope, type RopeStyle } from './rope.ts';
export { sampleTokens, type SampleParams } from './sample-tokens.ts';
export { logsumexp, softmax } from './softmax.ts';
export { tokenLogprobs, tokenLogprobsBackward } from './token-logprobs.ts';
