# Hugging Face transformers generate() on the same workload as bench/generation.ts:
# random-weight SmolLM2-135M-shaped Llama, float32, prompt 128, 128 new tokens, greedy, batch 1 and 16.
# usage: python3 bench/reference/hf_generate.py [--out results.json]
import argparse, json, time, datetime
import torch
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--out")
args = p.parse_args()

torch.manual_seed(0)
cfg = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                  head_dim=64, intermediate_size=1536, vocab_size=49152, rope_theta=100000.0,
                  rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=2048)
model = LlamaForCausalLM(cfg).to("cuda", torch.float32).eval()
results = []
for batch in (1, 16):
    ids = torch.randint(0, cfg.vocab_size, (batch, 128), device="cuda")
    mask = torch.ones_like(ids)
    kw = dict(attention_mask=mask, max_new_tokens=128, min_new_tokens=128, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        model.generate(ids[:, :8], attention_mask=mask[:, :8], max_new_tokens=2, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model.generate(ids, **kw)
        torch.cuda.synchronize()
        s = time.perf_counter() - t0
    n = (out.shape[1] - 128) * batch
    results.append(dict(batch=batch, promptTokens=128, newTokens=128, seconds=s, tokensPerSecond=n / s))
    print(f"transformers generate batch {batch}: {n} tokens in {s:.2f} s -> {n / s:.1f} tokens/s")
res = dict(suite="generation", runtime=f"torch {torch.__version__}", backend="cuda",
           device=torch.cuda.get_device_name(), model="SmolLM2-135M shape, random weights, f32",
           date=datetime.datetime.now().isoformat(), results=results)
if args.out:
    json.dump(res, open(args.out, "w"), indent=2)
