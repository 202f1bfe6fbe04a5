// The named routines of the Backend (Backend.run): each declared once, in the file beside its kernel.
export { adamw, type AdamWParams } from './adamw.ts';
export { attentionBackward, attentionForward, type AttentionParams } from './attention.ts';
export { loraLinear } from './lora-linear.ts';
export { rmsNorm } from './rmsnorm.ts';
export { rope, type RopeStyle } from './rope.ts';
export { logsumexp, softmax } from './softmax.ts';
export { swiglu } from './swiglu.ts';
export { tokenLogprobs, tokenLogprobsBackward } from './token-logprobs.ts';
