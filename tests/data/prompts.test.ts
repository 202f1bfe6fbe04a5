// Prompt datasets for GRPO/RLVR: TRL's prompt-only rows (text and messages), GSM8K's question/answer
// (the real test file), mlx-lm-lora's prompt/answer/system, extra columns kept for the rewards,
// and errors that name the file, line and field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPromptSplits } from '../../llm/data/prompts.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const HF = 'models/stories260K-hf', GSM = 'data/gsm8k/test.jsonl';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-prompts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!haveAssets(HF, GSM))('prompt datasets', () => {
  it('reads GSM8K: the question is the prompt, the answer a column for the verifier', async () => {
    const tok = await loadTokenizer(asset(HF));
    const { train, val } = await loadPromptSplits(asset(GSM), tok);
    expect(val).toBeNull();
    expect(train.length).toBe(1319);
    expect(typeof train[0].prompt).toBe('string');
    expect(train[0].prompt).toMatch(/^Janet/);
    expect(train[0].promptIds).toEqual(tok.encode(train[0].prompt as string));
    expect(String(train[0].columns.answer)).toMatch(/#### 18$/);
    expect(train[0].location).toMatch(/test\.jsonl:1$/);
  });

  it('text and conversational prompts, mlx-lm-lora system prompts, extra columns, left truncation', async () => {
    const tok = await loadTokenizer(asset(HF));
    const f = join(tmp, 'p.jsonl');
    writeFileSync(f, [
      { prompt: 'Once upon a time', solution: '3' },
      { prompt: [{ role: 'user', content: 'Hi' }], ground_truth: 'x' },
      { prompt: 'Add 2 and 2', answer: '4', system: 'Answer briefly.' },
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const { train } = await loadPromptSplits(f, tok, { chatTemplate: 'chatml', maxPromptLength: 6 });
    expect(train.map((r) => r.columns)).toEqual([{ solution: '3' }, { ground_truth: 'x' }, { answer: '4' }]);
    expect(train[1].prompt).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(train[2].prompt).toEqual([{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Add 2 and 2' }]);
    const full = tok.encode('Once upon a time');
    expect(train[0].promptIds).toEqual(full.slice(-6));
  });

  it('errors name the file, line and field', async () => {
    const tok = await loadTokenizer(asset(HF));
    const f = join(tmp, 'bad.jsonl');
    writeFileSync(f, '{"prompt": "ok"}\n{"text": "no prompt"}\n');
    await expect(loadPromptSplits(f, tok)).rejects.toThrow(/bad\.jsonl:2: no "prompt" field \(expected \{"prompt": text or messages, \.\.\.\} or GSM8K's \{"question", "answer"\}\); keys: text/);
    writeFileSync(f, '{"prompt": 5}\n');
    await expect(loadPromptSplits(f, tok)).rejects.toThrow(/bad\.jsonl:1: prompt: must be a string or a list of messages, got a number/);
    writeFileSync(f, '{"prompt": [{"role": "user", "content": "Hi"}]}\n');
    await expect(loadPromptSplits(f, tok)).rejects.toThrow(/has no chat template, needed for the conversational prompt at .*bad\.jsonl:1; pass --chat-template chatml/);
  });
});
