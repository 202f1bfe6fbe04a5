// Checked rows (data-check.ts) → the JSONL a hosted fine-tuning API takes:
//   SFT  {"messages": [{"role", "content"}, ...]}                      (Together "conversation", OpenAI chat)
//        {"text": "..."}                                               (Together "general"; OpenAI has none)
//   DPO  {"input": {"messages": [...]}, "preferred_output": [{"role": "assistant", ...}],
//         "non_preferred_output": [...]}                               (OpenAI's DPO format, Together's preference_openai)
// Plain-text prompt/completion and Alpaca rows become a user turn and an assistant turn: the provider
// applies its model's chat template, as it does to every conversation.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatLocation } from '../../data/records.ts';
import type { ChatMessage } from '../../tokenizers/tokenizer.ts';
import type { CheckedData, CheckedRow } from '../data-check.ts';
import { ConfigError } from '../protocol.ts';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

/** One row as the provider's JSON object; `textRows` says whether bare {"text"} rows are accepted. */
export function providerRow(c: CheckedRow, provider: string, textRows: boolean): Record<string, unknown> {
  if (c.kind === 'unpaired') throw new ConfigError(`${formatLocation(c.at)}: ${provider} has no unpaired (KTO) format`);
  if (c.kind === 'prompt') throw new ConfigError(`${formatLocation(c.at)}: ${provider} has no prompt-only (GRPO) format`);
  if (c.kind === 'pair') {
    const r = c.row;
    const input: Record<string, unknown> = { messages: r.conversational ? r.prompt : [user(r.prompt)] };
    if (r.conversational && r.tools) input.tools = r.tools;
    return {
      input,
      preferred_output: r.conversational ? r.chosen : [assistant(r.chosen)],
      non_preferred_output: r.conversational ? r.rejected : [assistant(r.rejected)],
    };
  }
  const r = c.row;
  switch (r.format) {
    case 'messages':
    case 'sharegpt':
      return r.tools ? { messages: r.messages, tools: r.tools } : { messages: r.messages };
    case 'prompt-completion':
      if (typeof r.prompt === 'string') return { messages: [user(r.prompt), assistant(r.completion as string)] };
      return { messages: [...r.prompt, ...(r.completion as ChatMessage[])], ...('tools' in r && r.tools ? { tools: r.tools } : {}) };
    case 'alpaca':
      return { messages: [user(r.input ? `${r.instruction}\n\n${r.input}` : r.instruction), assistant(r.output)] };
    case 'text':
      if (!textRows) throw new ConfigError(`${formatLocation(c.at)}: ${provider} fine-tuning takes conversations, not plain {"text"} rows; use messages, prompt/completion or Alpaca rows, or --backend local/together`);
      return { text: r.text };
  }
}

/** Writes DIR/provider-data/{train,valid}.jsonl in the provider's format; returns their paths. */
export async function writeProviderFiles(data: CheckedData, dir: string, provider: string, textRows: boolean): Promise<{ train: string; valid: string | null }> {
  const folder = join(dir, 'provider-data');
  await mkdir(folder, { recursive: true });
  const lines = (rows: CheckedRow[]) => rows.map((r) => JSON.stringify(providerRow(r, provider, textRows))).join('\n') + '\n';
  const train = join(folder, 'train.jsonl');
  await writeFile(train, lines(data.train.rows));
  let valid: string | null = null;
  if (data.val && data.val.rows.length) {
    valid = join(folder, 'valid.jsonl');
    await writeFile(valid, lines(data.val.rows));
  }
  return { train, valid };
}
