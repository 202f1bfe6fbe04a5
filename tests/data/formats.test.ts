// Row formats and validation: detection, and errors that name file, line and field. Uses the
// stories260K tokenizer (no chat template) for the dataset-level checks.
import { describe, expect, it } from 'vitest';
import { buildSftDataset } from '../../llm/data/dataset.ts';
import { DataError } from '../../llm/data/errors.ts';
import { detectFormat, RowError, validateRow } from '../../llm/data/formats.ts';
import { parseJsonl } from '../../llm/data/jsonl.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

function rowError(value: unknown, options = {}): RowError {
  try {
    validateRow(value, options);
  } catch (e) {
    if (e instanceof RowError) return e;
    throw e;
  }
  throw new Error('expected a RowError');
}

describe('format detection', () => {
  it('recognises each format by its keys, the most structured first', () => {
    expect(detectFormat({ messages: [] })).toBe('messages');
    expect(detectFormat({ conversations: [] })).toBe('sharegpt');
    expect(detectFormat({ prompt: 'a', completion: 'b' })).toBe('prompt-completion');
    expect(detectFormat({ instruction: 'a', input: '', output: 'b', text: 'pre-rendered' })).toBe('alpaca');
    expect(detectFormat({ text: 'a' })).toBe('text');
    expect(detectFormat({ question: 'a', answer: 'b' })).toBeNull();
  });

  it('normalises ShareGPT to chat roles', () => {
    const row = validateRow({
      conversations: [
        { from: 'system', value: 's' },
        { from: 'human', value: 'q' },
        { from: 'gpt', value: 'a' },
      ],
    });
    expect(row).toEqual({
      format: 'sharegpt',
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ],
    });
  });

  it('Alpaca input is optional; conversational prompt-completion takes a string completion as one assistant turn', () => {
    expect(validateRow({ instruction: 'i', output: 'o' })).toEqual({ format: 'alpaca', instruction: 'i', input: '', output: 'o' });
    expect(validateRow({ prompt: [{ role: 'user', content: 'q' }], completion: 'a' })).toEqual({
      format: 'prompt-completion',
      prompt: [{ role: 'user', content: 'q' }],
      completion: [{ role: 'assistant', content: 'a' }],
    });
  });

  it('keeps extra message keys and parses tools given as a JSON string', () => {
    const row = validateRow({ messages: [{ role: 'user', content: 'q', name: 'bob' }, { role: 'assistant', content: 'a' }], tools: '[{"type":"function"}]' });
    expect(row).toMatchObject({ messages: [{ role: 'user', content: 'q', name: 'bob' }, {}], tools: [{ type: 'function' }] });
  });
});

describe('validation errors name the field', () => {
  const cases: [string, unknown, string | undefined, RegExp][] = [
    ['not an object', [1, 2], undefined, /row must be a JSON object, got an array/],
    ['no known format', { question: 'q' }, undefined, /matches no known format \(it has "question"; expected one of: messages .*sharegpt .*prompt-completion .*alpaca .*text/],
    ['missing completion', { prompt: 'p' }, 'completion', /missing field/],
    ['wrong content type', { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 7 }] }, 'messages[2].content', /must be a string, got a number/],
    ['multimodal content', { messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content', /multimodal content lists are not supported/],
    ['unknown role', { messages: [{ role: 'bot', content: 'x' }] }, 'messages[0].role', /unknown role "bot" \(expected system, user, assistant, tool\)/],
    ['unknown ShareGPT speaker', { conversations: [{ from: 'bot', value: 'x' }] }, 'conversations[0].from', /unknown role "bot"/],
    ['empty completion', { prompt: 'p', completion: '  ' }, 'completion', /empty completion/],
    ['empty assistant turn', { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }] }, 'messages[1].content', /empty assistant message/],
    ['empty message list', { messages: [] }, 'messages', /must not be empty/],
    ['message not an object', { messages: ['hi'] }, 'messages[0]', /must be an object with "role" and "content", got a string/],
    ['null completion', { prompt: 'p', completion: null }, 'completion', /must be a string, got null/],
    ['string prompt, list completion', { prompt: 'p', completion: [{ role: 'assistant', content: 'a' }] }, 'completion', /must be a string when prompt is a string/],
    ['alpaca without output', { instruction: 'i', input: '' }, 'output', /missing field/],
    ['text not a string', { text: ['a'] }, 'text', /must be a string, got an array/],
  ];
  for (const [name, value, field, message] of cases) {
    it(name, () => {
      const e = rowError(value);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    });
  }

  it('a forced format reports the keys it lacks', () => {
    expect(rowError({ text: 'x' }, { format: 'messages' }).field).toBe('messages');
  });

  it('roles can be extended', () => {
    expect(validateRow({ messages: [{ role: 'developer', content: 'x' }] }, { roles: ['developer', 'user', 'assistant'] }).format).toBe('messages');
  });
});

const STORIES = 'models/stories260K-hf/tokenizer.json';
const haveStories = haveAssets(STORIES);

describe.skipIf(!haveStories)(`dataset-level errors${skipNote(haveStories)}`, async () => {
  const tok = haveStories ? await loadTokenizer(asset(STORIES)) : null!;
  const lines = [
    '{"prompt": "Once", "completion": " upon a time"}',
    '{"text": "The cat sat."}',
    '{"prompt": "The dog", "completion": " ran",}',
    '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}, {"role": "user", "content": 5}]}',
    '["not", "an", "object"]',
    '{"prompt": "ok", "completion": " fine"}',
  ];
  const records = parseJsonl(lines.join('\n'), 'train.jsonl');

  it('bad JSON at line 3 stops the load with file and line', () => {
    let error: unknown;
    try {
      buildSftDataset(records, tok, { chatTemplate: 'chatml' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataError);
    const e = error as DataError;
    expect([e.source, e.line, e.row, e.field]).toEqual(['train.jsonl', 3, 3, undefined]);
    expect(e.message).toMatch(/^train\.jsonl:3: not valid JSON \(/);
  });

  it('a wrong type at line 4 names the field', () => {
    expect(() => buildSftDataset(records.slice(3), tok, { chatTemplate: 'chatml' })).toThrow(
      /^train\.jsonl:4: messages\[2\]\.content: must be a string, got a number$/,
    );
  });

  it('skipInvalid counts the skipped rows and keeps their first errors', () => {
    const ds = buildSftDataset(records, tok, { chatTemplate: 'chatml', skipInvalid: true, maxReportedErrors: 2 });
    expect(ds.stats.rows).toBe(6);
    expect(ds.stats.invalid).toBe(3);
    expect(ds.stats.examples).toBe(3);
    expect(ds.examples.map((e) => e.line)).toEqual([1, 2, 6]);
    expect(ds.stats.errors.map((e) => [e.line, e.field])).toEqual([
      [3, undefined],
      [4, 'messages[2].content'],
    ]);
    expect(ds.stats.formats).toEqual({ messages: 0, sharegpt: 0, 'prompt-completion': 2, alpaca: 0, text: 1 });
  });

  it('conversations without a chat template are a clear error, even with skipInvalid', () => {
    const conv = parseJsonl('{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]}', 'chat.jsonl');
    expect(() => buildSftDataset(conv, tok, { skipInvalid: true })).toThrow(/has no chat template.*chat\.jsonl:1.*chatTemplate: 'chatml'/);
  });

  it('a conversation with no assistant turn has nothing to train on', () => {
    const conv = parseJsonl('{"messages": [{"role": "user", "content": "Hi"}]}', 'c.jsonl');
    expect(() => buildSftDataset(conv, tok, { chatTemplate: 'chatml' })).toThrow(/^c\.jsonl:1: the conversation has no assistant message/);
    expect(buildSftDataset(conv, tok, { chatTemplate: 'chatml', completionOnly: false }).stats.examples).toBe(1);
  });
});
