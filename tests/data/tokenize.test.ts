// Loss masks, checked token by token against expectations built independently in each test: the
// prompt and the whole encoded on their own (as TRL does), and chat transcripts written out by
// hand as strings (not rendered by the template engine) and encoded piece by piece.
import { describe, expect, it } from 'vitest';
import { buildSftDataset, type SftDatasetOptions } from '../../llm/data/dataset.ts';
import { parseJsonl } from '../../llm/data/jsonl.ts';
import { IGNORE_INDEX } from '../../llm/data/labels.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import type { Tokenizer } from '../../llm/tokenizers/tokenizer.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const STORIES = 'models/stories260K-hf/tokenizer.json';
const STORIES_BIN = 'models/stories260K/tok512.bin';
const LLAMA2 = 'tokenizers/llama2/tokenizer.json';
const ok = haveAssets(STORIES, STORIES_BIN, LLAMA2);

/** Build one example from one JSON row. */
function one(tok: Tokenizer, row: unknown, options: SftDatasetOptions = {}) {
  const ds = buildSftDataset(parseJsonl(JSON.stringify(row), 'row.jsonl'), tok, options);
  expect(ds.stats.examples).toBe(1);
  return { ...ds.examples[0], stats: ds.stats };
}

/** Labels that train on ids[start, end) for each span, IGNORE_INDEX elsewhere. */
function expectedLabels(ids: number[], spans: [number, number][]): number[] {
  return ids.map((id, i) => (spans.some(([s, e]) => i >= s && i < e) ? id : IGNORE_INDEX));
}

// A Llama-2-chat-like template: BOS/EOS as text, ignores add_generation_prompt.
const LLAMA2_STYLE =
  '{{ bos_token }}{% for m in messages %}{% if m.role == "user" %}{{ "[INST] " + m.content + " [/INST]" }}' +
  '{% elif m.role == "assistant" %}{{ " " + m.content + " " + eos_token }}{% endif %}{% endfor %}';

describe.skipIf(!ok)(`loss masks with real tokenizers${skipNote(ok)}`, async () => {
  const stories = ok ? await loadTokenizer(asset(STORIES)) : null!;
  const storiesBin = ok ? await loadTokenizer(asset(STORIES_BIN)) : null!;
  const llama = ok ? await loadTokenizer(asset(LLAMA2)) : null!;

  for (const [name, get] of [
    ['stories260K', () => stories],
    ['llama2', () => llama],
  ] as const) {
    it(`${name}: prompt-completion masks exactly the prompt's tokens and appends EOS`, () => {
      const tok = get();
      const prompt = 'Lily went to the park.\nQuestion: what did she see?\nAnswer:';
      const completion = ' A big red ball.';
      const ex = one(tok, { prompt, completion });
      const promptIds = tok.encode(prompt);
      const fullIds = tok.encode(prompt + completion);
      expect(promptIds[0]).toBe(tok.bosId);
      expect(fullIds.slice(0, promptIds.length)).toEqual(promptIds);
      expect(ex.inputIds).toEqual([...fullIds, tok.eosId]);
      expect(ex.labels).toEqual([...promptIds.map(() => IGNORE_INDEX), ...fullIds.slice(promptIds.length), tok.eosId]);
      expect(tok.decode(ex.labels.filter((l) => l !== IGNORE_INDEX), { skipSpecialTokens: true }).trim()).toBe(completion.trim());
      expect(ex.stats.boundaryMismatches).toBe(0);
    });

    it(`${name}: text rows train on every token; completionOnly false trains on the prompt too`, () => {
      const tok = get();
      const text = 'Once upon a time there was a tiny robot.';
      const ex = one(tok, { text });
      expect(ex.inputIds).toEqual([tok.bosId, ...tok.encode(text, { addBos: false }), tok.eosId]);
      expect(ex.labels).toEqual(ex.inputIds);
      const all = one(tok, { prompt: 'Q:', completion: ' yes' }, { completionOnly: false });
      expect(all.labels).toEqual(all.inputIds);
    });

    it(`${name}: Alpaca rows use the Alpaca prompt with and without input; loss on the output`, () => {
      const tok = get();
      const withInput = one(tok, { instruction: 'Add the numbers.', input: '2 and 3', output: 'The sum is 5.' });
      const prompt =
        'Below is an instruction that describes a task, paired with an input that provides further context. ' +
        'Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:\n';
      const promptIds = tok.encode(prompt);
      expect(withInput.inputIds).toEqual([...tok.encode(prompt + 'The sum is 5.'), tok.eosId]);
      expect(withInput.labels.slice(0, promptIds.length).every((l) => l === IGNORE_INDEX)).toBe(true);
      expect(withInput.labels.slice(promptIds.length)).toEqual(withInput.inputIds.slice(promptIds.length));

      const noInput = one(tok, { instruction: 'Say hi.', input: '', output: 'Hi!' });
      const prompt2 = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n';
      expect(noInput.inputIds).toEqual([...tok.encode(prompt2 + 'Hi!'), tok.eosId]);
      expect(noInput.labels.filter((l) => l !== IGNORE_INDEX).length).toBe(noInput.inputIds.length - tok.encode(prompt2).length);
    });
  }

  const conversation = {
    messages: [
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello there' },
      { role: 'user', content: 'Bye' },
      { role: 'assistant', content: 'See you' },
    ],
  };
  // ChatML written out by hand (what CHATML_TEMPLATE must render), BOS first.
  const turn = (role: string, content: string): string => `<|im_start|>${role}\n${content}<|im_end|>\n`;
  const chatml = {
    beforeA1: '<s>' + turn('system', 'Be kind.') + turn('user', 'Hi') + '<|im_start|>assistant\n',
    throughA1: '<s>' + turn('system', 'Be kind.') + turn('user', 'Hi') + turn('assistant', 'Hello there'),
    beforeA2: '<s>' + turn('system', 'Be kind.') + turn('user', 'Hi') + turn('assistant', 'Hello there') + turn('user', 'Bye') + '<|im_start|>assistant\n',
    full: '<s>' + turn('system', 'Be kind.') + turn('user', 'Hi') + turn('assistant', 'Hello there') + turn('user', 'Bye') + turn('assistant', 'See you'),
  };

  it('messages + ChatML fallback (stories260K): every assistant turn, end marker and appended EOS trained', () => {
    const enc = (s: string): number[] => stories.encode(s, { addBos: false }); // "<s>" in the text is the BOS token
    const full = enc(chatml.full);
    expect(full[0]).toBe(stories.bosId);
    const ex = one(stories, conversation, { chatTemplate: 'chatml' });
    expect(ex.inputIds).toEqual([...full, stories.eosId]);
    const spans: [number, number][] = [
      [enc(chatml.beforeA1).length, enc(chatml.throughA1).length],
      [enc(chatml.beforeA2).length, full.length + 1],
    ];
    expect(ex.labels).toEqual(expectedLabels(ex.inputIds, spans));
    expect(stories.decode(ex.inputIds.slice(...spans[0]))).toBe('Hello there<|im_end|>\n');
    expect(stories.decode(ex.inputIds.slice(...spans[1]), { skipSpecialTokens: true })).toBe('See you<|im_end|>\n');

    const last = one(stories, conversation, { chatTemplate: 'chatml', assistantTurns: 'last' });
    expect(last.labels).toEqual(expectedLabels(ex.inputIds, [spans[1]]));
    const all = one(stories, conversation, { chatTemplate: 'chatml', completionOnly: false });
    expect(all.labels).toEqual(all.inputIds);
  });

  it('the llama2.c tokenizer.bin of the same vocabulary gives the same ids and masks', () => {
    const hf = one(stories, conversation, { chatTemplate: 'chatml' });
    const bin = one(storiesBin, conversation, { chatTemplate: 'chatml' });
    expect(bin.inputIds).toEqual(hf.inputIds);
    expect(bin.labels).toEqual(hf.labels);
  });

  it('ShareGPT rows train exactly like the same messages', () => {
    const share = {
      conversations: conversation.messages.map((m) => ({ from: { system: 'system', user: 'human', assistant: 'gpt' }[m.role], value: m.content })),
    };
    const a = one(stories, share, { chatTemplate: 'chatml' });
    const b = one(stories, conversation, { chatTemplate: 'chatml' });
    expect(a.format).toBe('sharegpt');
    expect([a.inputIds, a.labels]).toEqual([b.inputIds, b.labels]);
  });

  it('messages + a Llama-2-style template with BOS/EOS as special tokens (llama2): spans end with EOS, no extra EOS', () => {
    const msgs = { messages: conversation.messages.slice(1) };
    const enc = (s: string): number[] => llama.encode(s, { addBos: false });
    const beforeA1 = '<s>[INST] Hi [/INST]';
    const throughA1 = beforeA1 + ' Hello there </s>';
    const beforeA2 = throughA1 + '[INST] Bye [/INST]';
    const full = beforeA2 + ' See you </s>';
    const ex = one(llama, msgs, { chatTemplate: LLAMA2_STYLE });
    const ids = enc(full);
    expect([ids[0], ids[ids.length - 1]]).toEqual([llama.bosId, llama.eosId]);
    expect(ex.inputIds).toEqual(ids);
    const spans: [number, number][] = [
      [enc(beforeA1).length, enc(throughA1).length],
      [enc(beforeA2).length, ids.length],
    ];
    expect(ex.labels).toEqual(expectedLabels(ids, spans));
    expect(llama.decode(ids.slice(...spans[0]))).toMatch(/^ ?Hello there <\/s>$/);
    expect(ex.stats.boundaryMismatches).toBe(0);
  });

  it("conversational prompt-completion (TRL): the prompt rendered with the generation prompt is masked", () => {
    const row = { prompt: [{ role: 'user', content: 'Hi' }], completion: [{ role: 'assistant', content: 'Hello there' }] };
    const ex = one(stories, row, { chatTemplate: 'chatml' });
    const enc = (s: string): number[] => stories.encode(s, { addBos: false });
    const full = enc('<s>' + turn('user', 'Hi') + turn('assistant', 'Hello there'));
    const start = enc('<s>' + turn('user', 'Hi') + '<|im_start|>assistant\n').length;
    expect(ex.inputIds).toEqual([...full, stories.eosId]);
    expect(ex.labels).toEqual(expectedLabels(ex.inputIds, [[start, full.length + 1]]));
  });

  it('a prompt ending inside a word: the merged token is trained and the row counted', () => {
    const ex = one(llama, { prompt: 'The capital of France is Par', completion: 'is.' });
    const promptIds = llama.encode('The capital of France is Par');
    const fullIds = llama.encode('The capital of France is Paris.');
    let common = 0;
    while (promptIds[common] === fullIds[common]) common++;
    expect(common).toBeLessThan(promptIds.length);
    expect(ex.stats.boundaryMismatches).toBe(1);
    expect(ex.labels).toEqual([...fullIds.slice(0, common).map(() => IGNORE_INDEX), ...fullIds.slice(common), llama.eosId]);
  });

  it('a template that renders a prefix differently is reported for the row', () => {
    const counting = '{{ messages|length }} turns\n{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}';
    expect(() => one(stories, conversation, { chatTemplate: counting })).toThrow(/row\.jsonl:1: the chat template renders messages\[0:2\] with the generation prompt differently/);
  });

  it('a template that rejects a conversation is a row error (skippable); a template that does not parse is not', () => {
    const noSystem = '{% for m in messages %}{% if m.role == "system" %}{{ raise_exception("System role not supported") }}{% endif %}{{ m.content }}\n{% endfor %}';
    const rows = parseJsonl([JSON.stringify(conversation), JSON.stringify({ messages: conversation.messages.slice(1) })].join('\n'), 'c.jsonl');
    expect(() => buildSftDataset(rows, stories, { chatTemplate: noSystem })).toThrow(/^c\.jsonl:1: chat template rejected the conversation/);
    const ds = buildSftDataset(rows, stories, { chatTemplate: noSystem, skipInvalid: true });
    expect([ds.stats.invalid, ds.stats.examples]).toEqual([1, 1]);
    expect(() => buildSftDataset(rows, stories, { chatTemplate: '{% for m in messages %}' })).toThrow(/chatTemplate does not parse as Jinja/);
  });

  it('BOS/EOS options', () => {
    const ex = one(llama, { prompt: 'a', completion: ' b' }, { addBos: false, addEos: false });
    expect(ex.inputIds).toEqual(llama.encode('a b', { addBos: false }));
    // A completion that already ends with the EOS text gets no second EOS (as TRL).
    const eos = one(llama, { prompt: 'a', completion: ' b</s>' });
    expect(eos.inputIds.filter((id) => id === llama.eosId)).toHaveLength(1);
  });

  it('maxLength: keep_start (default), keep_end, drop, and rows left with nothing to train on', () => {
    const text = { text: 'one two three four five six seven eight nine ten' };
    const n = one(llama, text).inputIds.length;
    const cut = one(llama, text, { maxLength: 5 });
    expect(cut.inputIds).toEqual(one(llama, text).inputIds.slice(0, 5));
    expect(cut.stats.truncated).toBe(1);
    expect(one(llama, text, { maxLength: 5, truncation: 'keep_end' }).inputIds).toEqual(one(llama, text).inputIds.slice(n - 5));
    const rows = parseJsonl(
      [JSON.stringify(text), JSON.stringify({ prompt: 'a long prompt that fills the window', completion: ' done' }), '{"text":"hi"}'].join('\n'),
      'r.jsonl',
    );
    const dropped = buildSftDataset(rows, llama, { maxLength: 5, truncation: 'drop' });
    expect([dropped.stats.droppedTooLong, dropped.stats.examples]).toEqual([2, 1]);
    const kept = buildSftDataset(rows, llama, { maxLength: 5 });
    // The prompt-completion row's completion is cut off entirely: nothing left to learn from it.
    expect([kept.stats.truncated, kept.stats.droppedNoLoss, kept.stats.examples]).toEqual([2, 1, 2]);
  });
});
