// Chat templates: the Jinja text from tokenizer_config.json ("chat_template") or chat_template.jinja,
// rendered with @huggingface/jinja and the variables transformers' apply_chat_template passes
// (messages, add_generation_prompt, and the special tokens by name).
import { Template } from '@huggingface/jinja';
import type { ChatMessage, ChatTemplateOptions } from './tokenizer.ts';

const parsed = new Map<string, Template>();

function compile(template: string, source: string): Template {
  let t = parsed.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new Error(`${source}: chat_template does not parse as Jinja (${(e as Error).message})`);
    }
    parsed.set(template, t);
  }
  return t;
}

export interface ChatTemplateTokens {
  bos_token?: string | null;
  eos_token?: string | null;
  unk_token?: string | null;
  pad_token?: string | null;
}

export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions,
  tokens: ChatTemplateTokens,
  source: string,
): string {
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new TypeError(`${source}: chat message ${i} must be { role: string, content: string }`);
    }
  });
  const vars: Record<string, unknown> = {
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? true,
  };
  for (const [k, v] of Object.entries(tokens)) if (typeof v === 'string') vars[k] = v;
  Object.assign(vars, options.variables);
  try {
    return compile(template, source).render(vars);
  } catch (e) {
    throw new Error(`${source}: rendering the chat template failed: ${(e as Error).message}`);
  }
}

/**
 * tokenizer_config.json's chat_template is either a string or a list of { name, template }
 * (named templates: "default", "tool_use", ...). Returns the named one (default: "default").
 */
export function pickChatTemplate(value: unknown, source: string, name = 'default'): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const entries = value as unknown[];
    for (const entry of entries) {
      const e = entry as { name?: unknown; template?: unknown };
      if (e && e.name === name && typeof e.template === 'string') return e.template;
    }
    const names = entries.map((e) => JSON.stringify((e as { name?: unknown })?.name)).join(', ');
    throw new Error(`${source}: chat_template has no template named "${name}" (it has ${names})`);
  }
  throw new Error(`${source}: chat_template must be a string or a list of { name, template }, got ${typeof value}`);
}
