// Tokenizers behind one interface: llama2.c tokenizer.bin and Hugging Face tokenizer.json.
export type {
  ChatMessage,
  ChatTemplateOptions,
  DecodeOptions,
  EncodeOptions,
  SpecialToken,
  StreamingDecoder,
  Tokenizer,
} from './tokenizer.ts';
export { Llama2cTokenizer } from './llama2c.ts';
export type { Llama2cTokenizerOptions } from './llama2c.ts';
export { HfTokenizer } from './hf.ts';
export type { HfTokenizerOptions } from './hf.ts';
export { loadTokenizer } from './load.ts';
export type { LoadTokenizerOptions } from './load.ts';
export { renderChatTemplate, pickChatTemplate } from './chat-template.ts';
