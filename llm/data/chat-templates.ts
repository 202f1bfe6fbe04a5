// Chat templates for tokenizers that have none (llama2.c's tokenizer.bin, stories260K's
// tokenizer.json), chosen explicitly by the user, never guessed.
import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';

/**
 * ChatML (<|im_start|>role\n...<|im_end|>\n), the format transformers used as its default chat
 * template, preceded by BOS when the tokenizer has one (Llama-family models were trained with it).
 * In a vocabulary without <|im_start|>/<|im_end|> these are spelled out as ordinary text, which is
 * why the dataset appends EOS after the last assistant turn when this template is used: the model
 * then learns to stop with a token generation actually stops on.
 */
export const CHATML_TEMPLATE =
  "{%- if bos_token is defined and bos_token %}{{ bos_token }}{%- endif %}" +
  "{%- for message in messages %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  '{%- endfor %}' +
  "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";

/** Named templates a user can select by name instead of pasting Jinja. */
export const NAMED_CHAT_TEMPLATES: Readonly<Record<string, string>> = { chatml: CHATML_TEMPLATE };

/**
 * A name from NAMED_CHAT_TEMPLATES, or Jinja source, checked to parse here so a broken template is
 * one configuration error rather than a failure on every row.
 */
export function resolveChatTemplate(nameOrJinja: string): string {
  const template = NAMED_CHAT_TEMPLATES[nameOrJinja] ?? nameOrJinja;
  try {
    new Template(template);
  } catch (e) {
    throw new Error(`chatTemplate does not parse as Jinja (${(e as Error).message}); named templates: ${Object.keys(NAMED_CHAT_TEMPLATES).join(', ')}`);
  }
  return template;
}

/**
 * The same tokenizer rendering conversations with another template. Both tokenizer classes read
 * `this.chatTemplate` in applyChatTemplate/encodeChat, so an object that inherits everything from
 * the tokenizer and shadows only that field renders and encodes exactly as the tokenizer would
 * (special tokens in the rendered text included) without re-loading it.
 */
export function withChatTemplate(tokenizer: Tokenizer, template: string): Tokenizer {
  if (tokenizer.chatTemplate === template) return tokenizer;
  return Object.create(tokenizer, { chatTemplate: { value: template, enumerable: true } }) as Tokenizer;
}
