# PyTorch + PEFT on the same DPO step as wgrad's DPO benchmark: random-weight SmolLM2-135M-shaped
# LlamaForCausalLM, float32 (TF32 off), LoRA r=16 alpha=32 on q/k/v/o, 4 pairs x 512 tokens (prompt
# 256 + completion 256; chosen and rejected rows in one batch of 8), reference = the same model with
# the adapter disabled (peft's disable_adapter, no grad), TRL 1.x's DPO sigmoid loss with beta 0.1 on
# summed completion log-probs computed as TRL's selective_log_softmax (gather - logsumexp, row by
# row, so the full log-softmax is never materialised), clip 1.0, AdamW lr 1e-4.
# Warm-up 2 steps, then 5 timed steps: pairs/s, tokens/s and torch.cuda.max_memory_allocated.
# usage: python3 bench/reference/torch_dpo.py [--out results.json] [--quick]
import argparse, datetime, json, time
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--out")
p.add_argument("--quick", action="store_true")
args = p.parse_args()

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)
dev = "cuda" if torch.cuda.is_available() else "cpu"
if args.quick:
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                      intermediate_size=128, vocab_size=256, rope_theta=100000.0, rms_norm_eps=1e-5,
                      tie_word_embeddings=True, max_position_embeddings=2048)
    P, T, timed = 2, 16, 2
else:
    cfg = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                      head_dim=64, intermediate_size=1536, vocab_size=49152, rope_theta=100000.0,
                      rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=2048)
    P, T, timed = 4, 512, 5
warmup, beta = 2, 0.1
model = LlamaForCausalLM(cfg).to(dev, torch.float32)
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], bias="none"))
model.train()
params = [q for q in model.parameters() if q.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
g = torch.Generator().manual_seed(1)


def make_batch():
    prompt = torch.randint(0, cfg.vocab_size, (P, T // 2), generator=g)
    chosen = torch.randint(0, cfg.vocab_size, (P, T - T // 2), generator=g)
    rejected = torch.randint(0, cfg.vocab_size, (P, T - T // 2), generator=g)
    ids = torch.cat([torch.cat([prompt, chosen], 1), torch.cat([prompt, rejected], 1)], 0)  # [2P, T]
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, T // 2:] = True  # completion tokens count
    return ids.to(dev), mask.to(dev)


def seq_logps(logits, ids, mask):
    # position t predicts token t+1 (TRL shifts labels the same way)
    logits, labels, m = logits[:, :-1], ids[:, 1:], mask[:, 1:]
    sel = torch.gather(logits, -1, labels.unsqueeze(-1)).squeeze(-1)
    lse = torch.stack([torch.logsumexp(row, dim=-1) for row in logits])  # selective_log_softmax, fp32 path
    return ((sel - lse) * m).sum(-1)


def step(batch):
    ids, mask = batch
    with torch.no_grad(), model.disable_adapter():
        ref = seq_logps(model(input_ids=ids).logits, ids, mask)
    pol = seq_logps(model(input_ids=ids).logits, ids, mask)
    delta = (pol[:P] - ref[:P]) - (pol[P:] - ref[P:])
    loss = -F.logsigmoid(beta * delta).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


batches = [make_batch() for _ in range(warmup + timed)]
losses, step_ms = [], []
for i in range(warmup):
    losses.append(step(batches[i]))
if dev == "cuda":
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
t0 = time.perf_counter()
for i in range(warmup, warmup + timed):
    s0 = time.perf_counter()
    losses.append(step(batches[i]))
    step_ms.append((time.perf_counter() - s0) * 1000)
if dev == "cuda":
    torch.cuda.synchronize()
secs = time.perf_counter() - t0
peak = torch.cuda.max_memory_allocated() if dev == "cuda" else 0
r = dict(pairs=P, seqLen=T, steps=timed, seconds=secs, pairsPerSecond=timed * P / secs,
         tokensPerSecond=timed * 2 * P * T / secs, stepMs=step_ms, peakAllocatedBytes=peak, loss=losses)
print(f"torch DPO {P} pairs x {T}: {timed} steps in {secs:.2f} s -> {r['pairsPerSecond']:.2f} pairs/s, "
      f"{r['tokensPerSecond']:.0f} tokens/s, peak allocated {peak / 2**20:.0f} MiB, losses {' '.join(f'{l:.4f}' for l in losses)}")
res = dict(suite="dpo", runtime=f"torch {torch.__version__}", backend=dev,
           device=torch.cuda.get_device_name() if dev == "cuda" else "cpu",
           model="tiny" if args.quick else "SmolLM2-135M shape, random weights, f32 (TF32 off)",
           method="DPO sigmoid beta 0.1, LoRA r=16 alpha=32 q/k/v/o (peft), reference = adapter disabled, AdamW lr 1e-4, clip 1.0",
           attention=model.config._attn_implementation, warmupSteps=warmup,
           date=datetime.datetime.now().isoformat(), results=[r])
if args.out:
    json.dump(res, open(args.out, "w"), indent=2)
