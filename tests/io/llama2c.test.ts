import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../llm/io/format-error.ts';
import { LLAMA2C_MAGIC, readLlama2cCheckpoint, readLlama2cCheckpointFile } from '../../llm/io/llama2c.ts';
import { interleavedToRotateHalf, rotateHalfToInterleaved } from '../../llm/io/rope-layout.ts';
import { readSafetensors } from '../../llm/io/safetensors.ts';
import { asset, haveAssets, skipNote } from './shared-assets.ts';
import { expectSameData, expectSameTensor } from './tensor-equal.ts';

describe('RoPE row layouts', () => {
  it('permutes rows within each head as view(h, hd/2, 2, in).transpose(1, 2)', () => {
    // 2 heads of head_dim 4, 1 column: row r holds the value r.
    const w = Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7);
    // Per head, interleaved rows (x0 x1 | x2 x3) = pairs (0,1), (2,3) become halves (0, 2 | 1, 3).
    expect([...interleavedToRotateHalf(w, 2, 1)]).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect([...rotateHalfToInterleaved(Float32Array.of(0, 2, 1, 3, 4, 6, 5, 7), 2, 1)]).toEqual([...w]);
    // Whole rows move together.
    expect([...interleavedToRotateHalf(Float32Array.of(10, 11, 20, 21, 30, 31, 40, 41), 1, 2)]).toEqual([10, 11, 30, 31, 20, 21, 40, 41]);
    expect(() => interleavedToRotateHalf(new Float32Array(6), 2, 1)).toThrow(/not \[n_heads=2 x even head_dim, 1\]/);
  });
});

const BIN = 'models/stories260K/stories260K.bin';
const HF = 'models/stories260K-hf';
const have = haveAssets(BIN, `${HF}/model.safetensors`, `${HF}/config.json`);

describe.skipIf(!have)(`llama2.c checkpoint: stories260K${skipNote(have)}`, () => {
  const bin = have ? new Uint8Array(readFileSync(asset(BIN))) : new Uint8Array();
  const hf = have ? readSafetensors(new Uint8Array(readFileSync(asset(`${HF}/model.safetensors`)))).tensors : new Map();
  const hfConfig = have ? JSON.parse(readFileSync(asset(`${HF}/config.json`), 'utf8')) : {};

  it('reads the header', () => {
    const { config } = readLlama2cCheckpoint(bin, { fileName: BIN });
    expect(config).toEqual({
      version: 0, dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4,
      vocabSize: 512, seqLen: 512, sharedClassifier: true, headDim: 8,
    });
  });

  it('describes the same model as the converted config.json', () => {
    const { hfConfig: c } = readLlama2cCheckpoint(bin);
    for (const key of [
      'architectures', 'model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
      'num_key_value_heads', 'head_dim', 'vocab_size', 'max_position_embeddings', 'rms_norm_eps',
      'tie_word_embeddings', 'hidden_act', 'bos_token_id', 'eos_token_id',
    ] as const) {
      expect(c[key], key).toEqual(hfConfig[key]);
    }
    expect(c.rope_theta).toBe(hfConfig.rope_parameters?.rope_theta ?? hfConfig.rope_theta);
  });

  it('with rotate_half q/k rows, equals every tensor of the HF conversion exactly', () => {
    const ckpt = readLlama2cCheckpoint(bin, { fileName: BIN, ropeLayout: 'rotate_half' });
    expect(ckpt.ropeLayout).toBe('rotate_half');
    // Same key set: tied embeddings mean no lm_head.weight in either.
    expect([...ckpt.tensors.keys()].sort()).toEqual([...hf.keys()].sort());
    expect(hf.has('lm_head.weight')).toBe(false);
    for (const [name, t] of hf) {
      expect(t.sourceDtype, name).toBe('F32');
      expectSameTensor(ckpt.tensors.get(name), { ...t, sourceDtype: undefined });
    }
    expect(ckpt.tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([32, 64]); // n_kv_heads * head_dim
    expect(ckpt.tensors.get('model.layers.4.mlp.down_proj.weight')!.shape).toEqual([64, 172]);
  });

  it('with interleaved q/k rows, keeps the file rows (and only q/k differ from HF)', async () => {
    const ckpt = await readLlama2cCheckpointFile(asset(BIN), { ropeLayout: 'interleaved' });
    expect(ckpt.ropeLayout).toBe('interleaved');
    for (const [name, t] of hf) {
      const mine = ckpt.tensors.get(name)!;
      if (/\.(q|k)_proj\./.test(name)) {
        expect(Buffer.compare(Buffer.from(mine.data.buffer), Buffer.from(t.data.buffer)), name).not.toBe(0);
        const heads = name.includes('q_proj') ? 8 : 4;
        expectSameData(rotateHalfToInterleaved(t.data as Float32Array, heads, 64), mine.data, name);
      } else {
        expectSameData(mine.data, t.data, name);
      }
    }
    // The first q row of the file is at byte 28 + 4 * (embedding + rms_att).
    const dv = new DataView(bin.buffer, bin.byteOffset);
    const wqStart = 28 + 4 * (512 * 64 + 5 * 64);
    expect(ckpt.tensors.get('model.layers.0.self_attn.q_proj.weight')!.data[1]).toBe(dv.getFloat32(wqStart + 4, true));
  });

  const expectFormat = (fn: () => unknown, pattern: RegExp): void => {
    expect(fn).toThrow(FormatError);
    expect(fn).toThrow(pattern);
  };

  it('reports a truncated or padded file with expected vs actual bytes', () => {
    expectFormat(() => readLlama2cCheckpoint(bin.slice(0, bin.length - 4), { fileName: 'cut.bin' }),
      /cut\.bin: truncated: header \(dim=64 hidden_dim=172 n_layers=5 n_heads=8 n_kv_heads=4 vocab_size=512 seq_len=512\) needs 1056540 bytes, file has 1056536/);
    const longer = new Uint8Array(bin.length + 8);
    longer.set(bin);
    expectFormat(() => readLlama2cCheckpoint(longer, { fileName: 'long.bin' }), /long\.bin: .* needs 1056540 bytes but the file has 1056548: 8 unexpected trailing bytes/);
    expectFormat(() => readLlama2cCheckpoint(bin.slice(0, 20), { fileName: 'tiny.bin' }), /tiny\.bin: file is 20 bytes; a llama2\.c checkpoint starts with a 28-byte header/);
  });

  it('rejects impossible header values, naming the field', () => {
    const withHeader = (i: number, v: number): Uint8Array => {
      const c = bin.slice();
      new DataView(c.buffer).setInt32(4 * i, v, true);
      return c;
    };
    expectFormat(() => readLlama2cCheckpoint(withHeader(3, 0), { fileName: 'h.bin' }), /h\.bin: n_heads: header value 0 is invalid/);
    expectFormat(() => readLlama2cCheckpoint(withHeader(3, 5), { fileName: 'h.bin' }), /dim: dim 64 must be n_heads \(5\) x an even head size/);
    expectFormat(() => readLlama2cCheckpoint(withHeader(4, 3), { fileName: 'h.bin' }), /n_kv_heads: n_heads 8 must be a multiple of n_kv_heads 3/);
    // A header that claims a huge model is caught by the size check before anything is allocated.
    expectFormat(() => readLlama2cCheckpoint(withHeader(2, 1 << 30), { fileName: 'h.bin' }), /truncated: .* n_layers=1073741824 .* file has 1056540/);
  });

  it('reads an unshared classifier (negative vocab_size) as lm_head.weight', () => {
    const wcls = Float32Array.from({ length: 512 * 64 }, (_, i) => (i % 97) - 48);
    const c = new Uint8Array(bin.length + wcls.byteLength);
    c.set(bin);
    c.set(new Uint8Array(wcls.buffer), bin.length);
    new DataView(c.buffer).setInt32(20, -512, true);
    const ckpt = readLlama2cCheckpoint(c);
    expect(ckpt.config.sharedClassifier).toBe(false);
    expect(ckpt.hfConfig.tie_word_embeddings).toBe(false);
    expect(ckpt.tensors.get('lm_head.weight')!.shape).toEqual([512, 64]);
    expectSameData(ckpt.tensors.get('lm_head.weight')!.data, wcls, 'lm_head.weight');
    expectSameData(ckpt.tensors.get('model.embed_tokens.weight')!.data, hf.get('model.embed_tokens.weight')!.data, 'embed');
  });

  it('reads a version-1 export (export.py --version 1) of the same weights', () => {
    // Rebuild the file per export.py's version1_export: 256-byte header, norms first, no freq_cis.
    const f = new Float32Array(bin.buffer.slice(28));
    const L = 5, dim = 64, hid = 172, V = 512, kv = 32;
    const sizes = { emb: V * dim, att: L * dim, wq: L * dim * dim, wk: L * kv * dim, wv: L * kv * dim, wo: L * dim * dim, ffn: L * dim, w1: L * hid * dim, w2: L * dim * hid, w3: L * hid * dim, fin: dim };
    const seg: Record<string, Float32Array> = {};
    let o = 0;
    for (const [k, n] of Object.entries(sizes)) {
      seg[k] = f.subarray(o, o + n);
      o += n;
    }
    const order = ['att', 'ffn', 'fin', 'emb', 'wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];
    const body = new Float32Array(order.reduce((s, k) => s + seg[k]!.length, 0));
    let p = 0;
    for (const k of order) {
      body.set(seg[k]!, p);
      p += seg[k]!.length;
    }
    const v1 = new Uint8Array(256 + body.byteLength);
    const dv = new DataView(v1.buffer);
    dv.setUint32(0, LLAMA2C_MAGIC, true);
    dv.setInt32(4, 1, true);
    [64, 172, 5, 8, 4, 512, 512].forEach((v, i) => dv.setInt32(8 + 4 * i, v, true));
    v1[36] = 1; // shared classifier
    v1.set(new Uint8Array(body.buffer), 256);

    const a = readLlama2cCheckpoint(v1, { fileName: 'v1.bin' });
    expect(a.config.version).toBe(1);
    for (const [name, t] of hf) expectSameData(a.tensors.get(name)!.data, t.data, name);

    dv.setInt32(4, 2, true);
    expectFormat(() => readLlama2cCheckpoint(v1, { fileName: 'v2.bin' }), /v2\.bin: version: llama2\.c version 2 \(int8 Q8_0\) checkpoints are not supported/);
  });
});
