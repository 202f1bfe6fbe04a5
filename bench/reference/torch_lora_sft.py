# PyTorch + transformers on the same workload as bench/training.ts: random-weight SmolLM2-135M-shaped
# LlamaForCausalLM, float32 (TF32 off), LoRA r=16 alpha=32 (no dropout) on q/k/v/o via PEFT when
# `import peft` works, else a minimal hand-written LoRA wrapper (the JSON says which), AdamW lr 1e-4
# (weight decay 0.01, PyTorch's default implementation), batch 8 x 512 random tokens, cross-entropy
# over all next tokens, clip grad norm 1.0. Warm-up 2 steps, then 5 timed steps: tokens/s and
# torch.cuda.max_memory_allocated.
# usage: python3 bench/reference/torch_lora_sft.py [--out results.json] [--quick]
import argparse, datetime, json, math, time
import torch
from torch import nn
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
    B, T, timed = 2, 16, 2
else:
    cfg = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                      head_dim=64, intermediate_size=1536, vocab_size=49152, rope_theta=100000.0,
                      rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=2048)
    B, T, timed = 8, 512, 5
warmup = 2
model = LlamaForCausalLM(cfg).to(dev, torch.float32)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


class LoRALinear(nn.Module):
    """y = base(x) + (alpha / r) * B(A(x)), A kaiming-uniform, B zeros (PEFT's default init)."""

    def __init__(self, base: nn.Linear, r: int, alpha: int):
        super().__init__()
        self.base, self.scale = base, alpha / r
        self.lora_A = nn.Linear(base.in_features, r, bias=False, device=base.weight.device)
        self.lora_B = nn.Linear(r, base.out_features, bias=False, device=base.weight.device)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


try:
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, bias="none"))
    lora_impl = "peft"
except ImportError:
    for p_ in model.parameters():
        p_.requires_grad_(False)
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            if child_name in TARGETS and isinstance(child, nn.Linear):
                setattr(mod, child_name, LoRALinear(child, 16, 32))
    lora_impl = "hand-written LoRALinear (peft not importable)"
model.train()
params = [p_ for p_ in model.parameters() if p_.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
g = torch.Generator().manual_seed(1)
batches = [torch.randint(0, cfg.vocab_size, (B, T), generator=g).to(dev) for _ in range(warmup + timed)]


def step(ids):
    out = model(input_ids=ids, labels=ids)  # mean CE over all B*(T-1) next tokens
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return out.loss.item()


losses, step_ms = [], []
for i in range(warmup):
    losses.append(step(batches[i]))
if dev == "cuda":
    torch.cuda.synchronize()
t0 = time.perf_counter()
for i in range(warmup, warmup + timed):
    s0 = time.perf_counter()
    losses.append(step(batches[i]))
    step_ms.append((time.perf_counter() - s0) * 1000)
if dev == "cuda":
    torch.cuda.synchronize()
secs = time.perf_counter() - t0
peak = torch.cuda.max_memory_allocated() if dev == "cuda" else 0


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


# Phase split on one more batch, synced after each phase (as bench/training.ts): forward alone
# (no graph), forward + backward, then clip + AdamW.
extra = torch.randint(0, cfg.vocab_size, (B, T), generator=g).to(dev)
sync(); q0 = time.perf_counter()
with torch.no_grad():
    model(input_ids=extra, labels=extra).loss.item()
sync(); q1 = time.perf_counter()
model(input_ids=extra, labels=extra).loss.backward()
sync(); q2 = time.perf_counter()
torch.nn.utils.clip_grad_norm_(params, 1.0)
opt.step()
opt.zero_grad(set_to_none=True)
sync(); q3 = time.perf_counter()
phase_ms = dict(forward=(q1 - q0) * 1000, forwardBackward=(q2 - q1) * 1000, clipAndOptimizer=(q3 - q2) * 1000)
r = dict(batch=B, seqLen=T, steps=timed, seconds=secs, tokensPerSecond=timed * B * T / secs, stepMs=step_ms,
         peakAllocatedBytes=peak, trainableParams=sum(p_.numel() for p_ in params), loss=losses, phaseMs=phase_ms)
print(f"torch LoRA SFT {B}x{T} ({lora_impl}): {timed} steps in {secs:.2f} s -> {r['tokensPerSecond']:.0f} tokens/s, "
      f"peak allocated {peak / 2**20:.0f} MiB, phases (ms, synced) {phase_ms}, losses {' '.join(f'{l:.3f}' for l in losses)}")
res = dict(suite="training", runtime=f"torch {torch.__version__}", backend=dev,
           device=torch.cuda.get_device_name() if dev == "cuda" else "cpu",
           model="tiny" if args.quick else "SmolLM2-135M shape, random weights, f32 (TF32 off)",
           method="LoRA r=16 alpha=32 on q/k/v/o, AdamW lr 1e-4, clip 1.0, CE over all tokens",
           lora=lora_impl, attention=model.config._attn_implementation if hasattr(model, "config") else None,
           warmupSteps=warmup, date=datetime.datetime.now().isoformat(), results=[r])
if args.out:
    json.dump(res, open(args.out, "w"), indent=2)
