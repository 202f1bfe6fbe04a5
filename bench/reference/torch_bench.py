#!/usr/bin/env python3
"""PyTorch reference for `wgrad bench`: the same workloads on the same GPU, written in the same
result schema (wgrad-bench v1, bench/schema.ts), so `wgrad bench compare` can put them side by side.

Every workload id, shape, FLOP and byte count matches bench/workloads/*.ts. Each workload runs in f32
(TF32 off: what wgrad's f32 kernels must match), and, where it means something, TF32 (matmul-based
workloads) and bf16 rows. Timing: warm-up, then samples of back-to-back repetitions between two CUDA
events (model steps: wall clock around a step that ends with `.item()`, as wgrad times them).
Correctness: each (workload, dtype) is also run at the small size wgrad checks and compared with the
same computation in float64 on the CPU.

    python3 bench/reference/torch_bench.py --suite all --out bench/results/h200-torch.json [--quick]
"""
import argparse
import datetime
import math
import os
import platform
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

SCHEMA = "wgrad-bench"
VERSION = 1
QUICK = dict(warmup=2, samples=5, target_ms=5.0, max_inner=20)
FULL = dict(warmup=3, samples=15, target_ms=20.0, max_inner=200)
TOL = {"f32": 1e-5, "tf32": 2e-2, "bf16": 5e-2}
DEV = "cuda"


# ---- timing ---------------------------------------------------------------------------------------

def set_precision(dtype):
    tf32 = dtype == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")


def torch_dtype(dtype):
    return torch.bfloat16 if dtype == "bf16" else torch.float32


def stats(samples):
    s = sorted(samples)
    mean = sum(s) / len(s)
    sd = math.sqrt(sum((x - mean) ** 2 for x in s) / max(1, len(s) - 1))
    return dict(medianMs=statistics.median(s), minMs=s[0], maxMs=s[-1], meanMs=mean, stdevMs=sd)


def time_events(step, plan):
    """GPU time per repetition: `inner` repetitions between two CUDA events per sample."""
    for _ in range(plan["warmup"]):
        step()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    step()
    end.record()
    torch.cuda.synchronize()
    one = max(start.elapsed_time(end), 1e-3)
    inner = max(1, min(plan["max_inner"], math.ceil(plan["target_ms"] / one)))
    samples = []
    for _ in range(plan["samples"]):
        start.record()
        for _ in range(inner):
            step()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end) / inner)
    return "cuda-event", inner, samples


def time_wall(step, plan):
    """Wall clock per step (model steps end with a read back, like wgrad's)."""
    for _ in range(plan["warmup"]):
        step()
    torch.cuda.synchronize()
    samples = []
    for _ in range(plan["samples"]):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1000)
    return "wall-clock", 1, samples


# ---- inputs: float64 on the CPU from a seeded generator, then cast, so a check sees the same numbers

def uniform(shape, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * scale


def ints(shape, seed, high):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, high, shape, generator=g)


def place(t, dtype, device, grad=False):
    """dtype: 'f32' | 'tf32' | 'bf16' | 'f64'."""
    td = torch.float64 if dtype == "f64" else torch_dtype(dtype)
    return t.to(device=device, dtype=td).requires_grad_(grad)


def count_label(n):
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10}K"
    return str(n)


def esize(dtype):
    return 2 if dtype == "bf16" else 4


# ---- kernel workloads: each returns dict(id, op, shape, flops, bytes(dtype), impl, dtypes, small, make)
# make(dtype, device) -> (step, outputs); outputs() runs once and returns tensors to check.

def matmul_wl(m, n, k, ta=False, tb=False):
    tr = ("t" if ta else "n") + ("t" if tb else "n")
    dims = str(m) if m == n == k else f"{m}x{n}x{k}"

    def make(dtype, device):
        a = place(uniform((k, m) if ta else (m, k), 11), dtype, device)
        b = place(uniform((n, k) if tb else (k, n), 12), dtype, device)
        opa, opb = (a.t() if ta else a), (b.t() if tb else b)
        out = torch.empty(m, n, device=device, dtype=a.dtype)
        return (lambda: torch.matmul(opa, opb, out=out)), (lambda: [torch.matmul(opa, opb)])

    return dict(id=f"matmul_{dims}_{tr}", op="matmul", shape=dict(m=m, n=n, k=k, transA=int(ta), transB=int(tb)),
                flops=2 * m * n * k, bytes=lambda d: esize(d) * (m * k + k * n + m * n), impl="torch.matmul",
                dtypes=["f32", "tf32", "bf16"], small=lambda: matmul_wl(17, 33, 9, ta, tb), make=make)


def add_wl(n):
    def make(dtype, device):
        a, b = place(uniform((n,), 21), dtype, device), place(uniform((n,), 22), dtype, device)
        out = torch.empty_like(a)
        return (lambda: torch.add(a, b, out=out)), (lambda: [a + b])

    return dict(id=f"add_{count_label(n)}", op="add", shape=dict(n=n), flops=n, bytes=lambda d: 3 * esize(d) * n,
                impl="torch.add", dtypes=["f32", "bf16"], small=lambda: add_wl(1031), make=make)


def copy_wl(n):
    def make(dtype, device):
        x = place(uniform((n,), 41), dtype, device)
        out = torch.empty_like(x)
        return (lambda: out.copy_(x)), (lambda: [x.clone()])

    return dict(id=f"copy_{count_label(n)}", op="copy", shape=dict(n=n), flops=0, bytes=lambda d: 2 * esize(d) * n,
                impl="Tensor.copy_", dtypes=["f32", "bf16"], small=lambda: copy_wl(1031), make=make)


def sum_wl(n):
    def make(dtype, device):
        x = place(uniform((n,), 31), dtype, device)
        return (lambda: torch.sum(x)), (lambda: [torch.sum(x).reshape(1)])

    return dict(id=f"sum_{count_label(n)}", op="sum", shape=dict(n=n), flops=n, bytes=lambda d: esize(d) * n,
                impl="torch.sum", dtypes=["f32", "bf16"], small=lambda: sum_wl(4099), make=make)


def softmax_wl(rows, cols):
    def make(dtype, device):
        x = place(uniform((rows, cols), 61, 4.0), dtype, device)
        return (lambda: torch.softmax(x, -1)), (lambda: [torch.softmax(x, -1)])

    return dict(id=f"softmax_{rows}x{cols}", op="softmax", shape=dict(rows=rows, cols=cols), flops=5 * rows * cols,
                bytes=lambda d: 2 * esize(d) * rows * cols, impl="torch.softmax", dtypes=["f32", "bf16"],
                small=lambda: softmax_wl(5, 67), make=make)


def cross_entropy_wl(N, V):
    def make(dtype, device):
        logits = place(uniform((N, V), 71, 4.0), dtype, device, grad=True)
        targets = ints((N,), 72, V).to(device)

        def run():
            loss = F.cross_entropy(logits, targets)
            loss.backward()
            g = logits.grad
            logits.grad = None
            return [loss.detach().reshape(1), g]

        return (lambda: run()), run

    return dict(id=f"cross_entropy_fwd_bwd_n{N}v{V}", op="cross_entropy_fwd_bwd", shape=dict(tokens=N, vocab=V),
                flops=6 * N * V, bytes=lambda d: 2 * esize(d) * N * V, impl="F.cross_entropy + backward",
                dtypes=["f32", "bf16"], small=lambda: cross_entropy_wl(7, 131), make=make)


def attention_wl(B, H, T, D, backward):
    fwd = 4 * B * H * T * T * D / 2
    io = B * H * T * D
    op = "attention_fwd_bwd" if backward else "attention_fwd"

    def make(dtype, device):
        q, k, v = (place(uniform((B, H, T, D), s), dtype, device, grad=backward) for s in (81, 82, 83))
        dout = place(uniform((B, H, T, D), 84), dtype, device)

        def run():
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            if not backward:
                return [o]
            o.backward(dout)
            gs = []
            for t in (q, k, v):
                gs.append(t.grad)
                t.grad = None
            return [o.detach()] + gs

        def step():
            if backward:
                run()
            else:
                with torch.no_grad():
                    run()

        return step, run

    return dict(id=f"{op}_b{B}h{H}t{T}d{D}", op=op, shape=dict(batch=B, heads=H, seq=T, headDim=D),
                flops=3.5 * fwd if backward else fwd, bytes=lambda d: (8 if backward else 4) * esize(d) * io,
                impl="F.scaled_dot_product_attention(is_causal=True)" + (" + backward" if backward else ""),
                dtypes=["f32", "tf32", "bf16"], small=lambda: attention_wl(1, 2, 9, 8, backward), make=make)


def lora_linear_wl(N, i, o, r):
    fwd = 2 * N * (i * o + i * r + r * o)
    bwd = 2 * N * i * o + 4 * N * r * (i + o)

    def make(dtype, device):
        W = place(uniform((o, i), 91, 1 / math.sqrt(i)), dtype, device)
        Bm = place(uniform((o, r), 93, 0.1), dtype, device, grad=True)
        A = place(uniform((r, i), 94, 1 / math.sqrt(i)), dtype, device, grad=True)
        x = place(uniform((N, i), 95), dtype, device, grad=True)
        dy = place(uniform((N, o), 96), dtype, device)
        scale = 2.0  # alpha / r with alpha = 2r, as the wgrad workload

        def run():
            y = F.linear(x, W) + F.linear(F.linear(x, A), Bm) * scale
            y.backward(dy)
            gs = []
            for t in (x, A, Bm):
                gs.append(t.grad)
                t.grad = None
            return [y.detach()] + gs

        return (lambda: run()), run

    return dict(id=f"lora_linear_fwd_bwd_n{N}i{i}o{o}r{r}", op="lora_linear_fwd_bwd", shape={"tokens": N, "in": i, "out": o, "rank": r},
                flops=fwd + bwd, bytes=lambda d: esize(d) * (2 * N * i + i * o + 2 * r * i + 2 * o * r + 2 * N * o),
                impl="F.linear x3 (frozen W) + backward", dtypes=["f32", "tf32", "bf16"],
                small=lambda: lora_linear_wl(5, 19, 13, 4), make=make)


def adamw_wl(P):
    def make(dtype, device):
        p = torch.nn.Parameter(place(uniform((P,), 101), dtype, device))
        p.grad = place(uniform((P,), 102), dtype, device)
        opt = torch.optim.AdamW([p], lr=1e-2, weight_decay=0.01, fused=device == "cuda")

        def outputs():
            opt.step()
            opt.step()
            return [p.detach().clone()]

        return (lambda: opt.step()), outputs

    return dict(id=f"adamw_{count_label(P)}", op="adamw", shape=dict(params=P), flops=14 * P, bytes=lambda d: 28 * P,
                impl="torch.optim.AdamW(fused=True)", dtypes=["f32"], small=lambda: adamw_wl(1031), make=make)


def kernel_workloads(quick):
    sizes = [64, 128] if quick else [1024, 2048, 4096]
    big = sizes[-1]
    n = 1 << 16 if quick else 64 << 20
    return ([matmul_wl(s, s, s) for s in sizes] + [matmul_wl(big, big, big, False, True), matmul_wl(big, big, big, True, False)] + [
        copy_wl(n), add_wl(n), sum_wl(n),
        softmax_wl(64, 256) if quick else softmax_wl(16384, 4096),
        cross_entropy_wl(32, 512) if quick else cross_entropy_wl(4096, 49152),
        attention_wl(1, 2, 32, 16, False) if quick else attention_wl(8, 9, 512, 64, False),
        attention_wl(1, 2, 32, 16, True) if quick else attention_wl(8, 9, 512, 64, True),
        lora_linear_wl(64, 64, 64, 8) if quick else lora_linear_wl(4096, 2048, 2048, 16),
        adamw_wl(1 << 16) if quick else adamw_wl(16 << 20),
    ])


# ---- model shapes (bench/models.ts) --------------------------------------------------------------

MODELS = {
    "smollm2-135m": dict(arch="llama", hidden=576, layers=30, heads=9, kv=3, head_dim=64, inter=1536, vocab=49152, theta=100000.0, eps=1e-5, tied=True),
    "qwen2.5-0.5b": dict(arch="qwen2", hidden=896, layers=24, heads=14, kv=2, head_dim=64, inter=4864, vocab=151936, theta=1000000.0, eps=1e-6, tied=True),
    "tinyllama-1.1b": dict(arch="llama", hidden=2048, layers=22, heads=32, kv=4, head_dim=64, inter=5632, vocab=32000, theta=10000.0, eps=1e-5, tied=False),
    "tiny": dict(arch="llama", hidden=64, layers=2, heads=4, kv=2, head_dim=16, inter=128, vocab=256, theta=100000.0, eps=1e-5, tied=True),
}
LORA_R, LORA_ALPHA, TARGETS = 16, 32, ["q_proj", "k_proj", "v_proj", "o_proj"]


def matmul_params(m):
    qo = 2 * m["hidden"] * m["heads"] * m["head_dim"]
    kv = 2 * m["hidden"] * m["kv"] * m["head_dim"]
    return m["layers"] * (qo + kv + 3 * m["hidden"] * m["inter"]) + m["vocab"] * m["hidden"]


def total_params(m):
    embed = m["vocab"] * m["hidden"]
    norms = (2 * m["layers"] + 1) * m["hidden"]
    bias = m["layers"] * (m["heads"] + 2 * m["kv"]) * m["head_dim"] if m["arch"] == "qwen2" else 0
    return matmul_params(m) - (embed if m["tied"] else 0) + embed + norms + bias


def attention_flops(m, B, T):
    return m["layers"] * 2 * B * m["heads"] * T * T * m["head_dim"]


def build_model(name, dtype, device):
    """Random weights (seeded), built in f32 on the CPU and then moved, so every dtype starts equal."""
    import transformers
    m = MODELS[name]
    kw = dict(hidden_size=m["hidden"], num_hidden_layers=m["layers"], num_attention_heads=m["heads"],
              num_key_value_heads=m["kv"], head_dim=m["head_dim"], intermediate_size=m["inter"],
              vocab_size=m["vocab"], rope_theta=m["theta"], rms_norm_eps=m["eps"], tie_word_embeddings=m["tied"],
              max_position_embeddings=2048)
    torch.manual_seed(0)
    if m["arch"] == "qwen2":
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**kw))
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**kw))
    td = torch.float64 if dtype == "f64" else torch.float32  # bf16 training: autocast over f32 weights
    return model.to(device=device, dtype=td)


def trainer_step(params, opt, batch_loss):
    """The Trainer's step for one micro-batch (bench/workloads/lora-sft.ts trainerStep): batch_loss(seed)
    with seeds 1, 2, ..., backward, clip_grad_norm_ 1.0, AdamW, zero_grad; loss and norm read back."""
    state = dict(loss=float("nan"), seed=1)

    def step():
        loss = batch_loss(state["seed"])
        state["seed"] += 1
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        state["loss"] = loss.item()
        return [torch.tensor([state["loss"], norm.item()], dtype=torch.float64)]

    def outputs():
        a = step()[0]
        b = step()[0]
        return [torch.cat([a, b[:1]])]

    return step, outputs, state


def lora_sft_wl(name, B, T):
    m = MODELS[name]
    N = B * T
    P, attn = matmul_params(m), attention_flops(m, B, T)
    h, q, kv = m["hidden"], m["heads"] * m["head_dim"], m["kv"] * m["head_dim"]
    lora = m["layers"] * 2 * N * LORA_R * ((h + q) + 2 * (h + kv) + (q + h))

    def make(dtype, device):
        model = build_model(name, dtype, device)
        torch.manual_seed(1)
        try:
            from peft import LoraConfig, get_peft_model
            model = get_peft_model(model, LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS, bias="none"))
        except ImportError as e:
            raise SystemExit(f"torch_bench.py: the training suite needs peft ({e})")
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

        def batch_loss(seed):
            ids = ints((B, T), seed, m["vocab"]).to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16" and device == "cuda"):
                return model(input_ids=ids, labels=ids).loss  # mean CE over B·(T−1) next tokens

        step, outputs, state = trainer_step(params, opt, batch_loss)

        def metrics(median_ms):
            return dict(tokensPerSecond=N / (median_ms / 1000), peakAllocatedBytes=float(torch.cuda.max_memory_allocated()),
                        trainableParams=float(sum(p.numel() for p in params)), loss=state["loss"])

        return step, outputs, metrics

    return dict(id=f"lora_sft_step_{name}_b{B}t{T}", suite="training", op="lora_sft_step",
                shape=dict(model=name, batch=B, seq=T, layers=m["layers"], hidden=m["hidden"], vocab=m["vocab"], rank=LORA_R),
                flops=4 * P * N + 3.5 * attn + 3 * lora, bytes=lambda d: 2 * 4 * total_params(m),
                impl="transformers + peft LoRA, F.cross_entropy, clip_grad_norm_, torch.optim.AdamW (bf16: autocast)",
                dtypes=["f32", "tf32", "bf16"], wall=True, timing=dict(warmup=2, samples=5),
                small=lambda: lora_sft_wl("tiny", 2, 8), make=make, tol=1e-4)


def dpo_wl(name, P, T):
    """TRL 1.x's DPO sigmoid loss (beta 0.1) with LoRA, reference = the adapter disabled (no grad);
    summed completion log-probs as TRL's selective_log_softmax (gather - logsumexp row by row)."""
    m = MODELS[name]
    N = 2 * P * T
    Pm, attn = matmul_params(m), attention_flops(m, 2 * P, T)
    half = T // 2

    def make(dtype, device):
        import torch.nn.functional as F
        from peft import LoraConfig, get_peft_model
        model = build_model(name, dtype, device)
        torch.manual_seed(1)
        model = get_peft_model(model, LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS, bias="none"))
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
        def logps(ids):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16" and device == "cuda"):
                logits = model(input_ids=ids).logits[:, :-1].float()
            labels = ids[:, 1:]
            sel = torch.gather(logits, -1, labels.unsqueeze(-1)).squeeze(-1)
            lse = torch.stack([torch.logsumexp(row, dim=-1) for row in logits])
            mask = torch.zeros_like(sel)
            mask[:, half - 1:] = 1  # targets at positions >= half: the completion tokens
            return ((sel - lse) * mask).sum(-1)

        def batch_loss(seed):
            prompt = ints((P, half), seed + 7919, m["vocab"])
            comp = ints((2 * P, T - half), seed, m["vocab"])
            ids = torch.cat([prompt.repeat(2, 1), comp], 1).to(device)  # [2P, T]: chosen rows, then rejected
            with torch.no_grad(), model.disable_adapter():
                ref = logps(ids)
            pol = logps(ids)
            delta = (pol[:P] - ref[:P]) - (pol[P:] - ref[P:])
            return -F.logsigmoid(0.1 * delta).mean()

        step, outputs, state = trainer_step(params, opt, batch_loss)

        def metrics(median_ms):
            return dict(pairsPerSecond=P / (median_ms / 1000), tokensPerSecond=N / (median_ms / 1000),
                        peakAllocatedBytes=float(torch.cuda.max_memory_allocated()), loss=state["loss"])

        return step, outputs, metrics

    return dict(id=f"dpo_step_{name}_p{P}t{T}", suite="training", op="dpo_step",
                shape=dict(model=name, pairs=P, seq=T, layers=m["layers"], hidden=m["hidden"], vocab=m["vocab"], rank=LORA_R),
                flops=3 * (2 * Pm * N + attn) + 1.5 * attn, bytes=lambda d: 3 * 4 * total_params(m),
                impl="transformers + peft LoRA, disable_adapter() reference, TRL sigmoid DPO loss, clip_grad_norm_, torch.optim.AdamW",
                dtypes=["f32", "tf32", "bf16"], wall=True, timing=dict(warmup=2, samples=5),
                small=lambda: dpo_wl("tiny", 2, 8), make=make, tol=1e-4)


def grpo_wl(name, prompts, G, P, new_tokens, micro):
    """bench/workloads/grpo.ts in PyTorch: HF generate (sampling, temperature 1, no top-k/top-p, exactly
    new_tokens tokens) of G completions for each of `prompts` random prompts, the share of even token
    ids as reward, TRL's group advantages (Bessel std + 1e-4), then TRL's dapo loss with mu = 1
    (ratio exp(logp - logp.detach()), clip 0.2) over micro-batches: per-token log-probs of the
    completion with the prompt as context and logits / temperature, entropy without grad, loss summed
    over tokens / completion tokens of the whole batch, backward, clip_grad_norm_ 1.0, AdamW."""
    m = MODELS[name]
    B, T = prompts * G, P + new_tokens
    W, attn = matmul_params(m), attention_flops(m, prompts * G, P + new_tokens)

    def make(dtype, device):
        from peft import LoraConfig, get_peft_model
        model = build_model(name, dtype, device)
        torch.manual_seed(1)
        model = get_peft_model(model, LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS, bias="none"))
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
        prompt_ids = ints((prompts, P), 11, m["vocab"]).to(device).repeat_interleave(G, dim=0)  # [B, P], G copies in a row
        state = dict(loss=float("nan"), sample_ms=0.0, step_ms=0.0)

        def one(sample=True):
            """sample=False: fixed random completions instead of generate (the float64 check: CUDA and CPU
            draw different random streams, so sampled tokens cannot be compared across devices)."""
            import time
            t0 = time.perf_counter()
            if sample:
                torch.manual_seed(0)
                model.eval()
                with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16" and device == "cuda"):
                    out = model.generate(input_ids=prompt_ids, attention_mask=torch.ones_like(prompt_ids), do_sample=True, temperature=1.0,
                                         top_k=0, top_p=1.0, max_new_tokens=new_tokens, pad_token_id=0, eos_token_id=None)
            else:
                out = torch.cat([prompt_ids, ints((B, new_tokens), 5, m["vocab"]).to(device)], 1)
            comp = out[:, P:]
            if device == "cuda":
                torch.cuda.synchronize()
            t1 = time.perf_counter()
            model.train()
            rewards = (comp % 2 == 0).double().mean(-1)
            grouped = rewards.view(-1, G)
            adv = ((rewards - grouped.mean(1).repeat_interleave(G)) / (grouped.std(1).repeat_interleave(G) + 1e-4)).float()
            mask = torch.ones_like(comp, dtype=torch.float32)
            n_items = mask.sum()
            total = 0.0
            for i in range(0, B, micro):
                ids = out[i:i + micro]
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16" and device == "cuda"):
                    logits = model(input_ids=ids).logits[:, P - 1:-1].float() / 1.0
                tgt = ids[:, P:]
                logps = torch.gather(logits, -1, tgt.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
                with torch.no_grad():
                    p = torch.softmax(logits, -1)
                    _entropy = torch.logsumexp(logits, -1) - (p * logits).sum(-1)
                coef1 = torch.exp(logps - logps.detach())
                coef2 = torch.clamp(coef1, 0.8, 1.2)
                a = adv[i:i + micro].unsqueeze(1)
                per_token = -torch.min(coef1 * a, coef2 * a)
                loss = (per_token * mask[i:i + micro]).sum() / n_items
                loss.backward()
                total += loss.item()
            norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            state.update(loss=total, sample_ms=(t1 - t0) * 1000, step_ms=(time.perf_counter() - t0) * 1000)
            return [torch.tensor([total, norm.item()], dtype=torch.float64)]

        def step():
            one()

        def outputs():
            return one(sample=False)

        def metrics(median_ms):
            return dict(completionTokensPerSecond=B * new_tokens / (median_ms / 1000), tokensPerSecond=B * T / (median_ms / 1000),
                        sampleShare=state["sample_ms"] / state["step_ms"], peakAllocatedBytes=float(torch.cuda.max_memory_allocated()),
                        loss=state["loss"])

        return step, outputs, metrics

    return dict(id=f"grpo_step_{name}_p{prompts}g{G}t{new_tokens}", suite="training", op="grpo_step",
                shape=dict(model=name, prompts=prompts, generations=G, prompt=P, newTokens=new_tokens, micro=micro, layers=m["layers"],
                           hidden=m["hidden"], vocab=m["vocab"], rank=LORA_R),
                flops=2 * W * B * T + 3 * (2 * W * B * T + attn), bytes=lambda d: 4 * total_params(m) * (new_tokens + 3 * (B // micro)),
                impl="transformers generate (sampling) + peft LoRA + TRL's dapo GRPO loss in plain PyTorch, clip_grad_norm_, torch.optim.AdamW",
                dtypes=["f32", "bf16"], wall=True, timing=dict(warmup=1, samples=3),
                small=lambda: grpo_wl("tiny", 1, 2, 3, 1, 2), make=make, tol=1e-3)


def generation_wl(name, B, P, G, static=False):
    """static: HF's StaticCache (preallocated, written in place) with the forward under
    torch.compile(mode="reduce-overhead", fullgraph=True), the recipe of transformers' LLM
    inference-optimization guide; the first warmup call compiles (CUDA graphs), so it is not timed."""
    m = MODELS[name]

    def make(dtype, device):
        model = build_model(name, dtype, device)
        if dtype == "bf16":
            model = model.to(torch.bfloat16)
        model.eval()
        if static:
            model.generation_config.cache_implementation = "static"
            model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        ids = ints((B, P), 7, m["vocab"]).to(device)
        mask = torch.ones_like(ids)
        state = dict(n=0)

        def step():
            with torch.no_grad():
                out = model.generate(ids, attention_mask=mask, max_new_tokens=G, min_new_tokens=G, do_sample=False, pad_token_id=0)
            state["n"] = (out.shape[1] - P) * B

        def outputs():
            with torch.no_grad():
                return [model(input_ids=ids).logits.float()]

        def metrics(median_ms):
            return dict(tokensPerSecond=state["n"] / (median_ms / 1000), newTokens=float(state["n"]))

        return step, outputs, metrics

    return dict(id=f"generate{'_static_compile' if static else ''}_{name}_b{B}p{P}g{G}", suite="generation", op="generate",
                shape=dict(model=name, batch=B, prompt=P, newTokens=G, layers=m["layers"], hidden=m["hidden"], vocab=m["vocab"]),
                flops=2 * matmul_params(m) * B * (P + G), bytes=lambda d: esize(d) * total_params(m) * G,
                impl="transformers generate (greedy, " + ("StaticCache + torch.compile reduce-overhead)" if static else "KV cache)"),
                dtypes=["f32"] if static else ["f32", "bf16"], wall=True,
                timing=dict(warmup=2 if static else 1, samples=3), small=lambda: generation_wl("tiny", 2, 5, 3), make=make, tol=1e-4)


def training_workloads(quick):
    if quick:
        return [lora_sft_wl("tiny", 2, 16), dpo_wl("tiny", 2, 16), grpo_wl("tiny", 1, 2, 4, 2, 2)]
    return [lora_sft_wl("smollm2-135m", 8, 512), dpo_wl("smollm2-135m", 4, 512), grpo_wl("smollm2-135m", 8, 8, 128, 256, 16), lora_sft_wl("qwen2.5-0.5b", 4, 512),
            lora_sft_wl("tinyllama-1.1b", 4, 512)]


def generation_workloads(quick):
    if quick:
        return [generation_wl("tiny", 1, 8, 8), generation_wl("tiny", 4, 8, 8)]
    return ([generation_wl(n, b, 128, 128) for n in ("smollm2-135m", "qwen2.5-0.5b", "tinyllama-1.1b") for b in (1, 16)]
            + [generation_wl("smollm2-135m", b, 128, 128, static=True) for b in (1, 16)])


# ---- running ------------------------------------------------------------------------------------

def as_list(outs):
    return [o.detach().double().cpu().reshape(-1) for o in outs]


def check(wl, dtype):
    small = wl["small"]()
    set_precision(dtype)
    got = as_list(small["make"](dtype, DEV)[1]())
    ref = as_list(small["make"]("f64", "cpu")[1]())
    worst = 0.0
    for g, r in zip(got, ref):
        scale = max(r.abs().max().item(), 1e-30)
        d = (g - r).abs().max().item()
        worst = max(worst, float("inf") if math.isnan(d) else d / scale)
    tol = wl.get("tol", TOL[dtype]) if dtype == "f32" else TOL[dtype]
    shape = {k: v for k, v in small["shape"].items() if isinstance(v, (int, float))}
    return dict(reference="float64", shape=shape, maxError=worst, tolerance=tol, passed=worst <= tol)


def run_one(wl, dtype, suite, plan):
    chk = check(wl, dtype)
    set_precision(dtype)
    made = wl["make"](dtype, DEV)
    step = made[0]
    p = dict(plan, **wl.get("timing", {}))
    torch.cuda.reset_peak_memory_stats()
    method, inner, samples = (time_wall if wl.get("wall") else time_events)(step, p)
    st = stats(samples)
    ms = st["medianMs"]
    nbytes = wl["bytes"](dtype)
    row = dict(id=wl["id"], suite=suite, op=wl["op"], dtype=dtype, shape=wl["shape"], flops=wl["flops"], bytes=nbytes,
               impl=wl["impl"] + (" (TF32)" if dtype == "tf32" else ""), timing=method, warmup=p["warmup"], inner=inner,
               samplesMs=samples, stats=st, tflops=wl["flops"] / ms / 1e9, gbps=nbytes / ms / 1e6, check=chk)
    if len(made) > 2:
        row["metrics"] = made[2](ms)
    del made
    set_precision("f32")
    torch.cuda.empty_cache()
    return row


def git_commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5).stdout.strip()
        return out or None
    except Exception:
        return None


def versions():
    d = {"cuda": str(torch.version.cuda), "cudnn": str(torch.backends.cudnn.version())}
    for mod in ("transformers", "peft"):
        try:
            d[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return d


def fingerprint():
    name = torch.cuda.get_device_name()
    props = torch.cuda.get_device_properties(0)
    cap = f"{props.major}.{props.minor}"
    features = [f"cuda-capability-{cap}"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    return dict(backend="cuda", name=f"{name} (cuda)",
                adapter=dict(vendor="nvidia", architecture=f"sm_{props.major}{props.minor}", device=name, description=name),
                features=features, limits=dict(totalMemory=float(props.total_memory), multiProcessorCount=float(props.multi_processor_count)),
                host=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), os=platform.platform()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="kernels", choices=["kernels", "training", "generation", "all"])
    ap.add_argument("--quick", action="store_true", help="tiny sizes")
    ap.add_argument("--out", help="write the result file here")
    ap.add_argument("--label", help="name for reports (default: 'pytorch <gpu>')")
    ap.add_argument("--dtypes", default="f32,tf32,bf16", help="subset of f32,tf32,bf16")
    ap.add_argument("--only", help="comma-separated substrings of workload ids")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_bench.py: no CUDA device")
    want = set(args.dtypes.split(","))
    suites = ["kernels", "training", "generation"] if args.suite == "all" else [args.suite]
    plan = QUICK if args.quick else FULL
    lists = dict(kernels=kernel_workloads, training=training_workloads, generation=generation_workloads)
    rows, skipped = [], []
    dev, commit = fingerprint(), git_commit()
    engine = dict(name="pytorch", version=torch.__version__, details=versions())
    if commit:
        engine["commit"] = commit

    def write():
        """The file so far: rewritten after every row, so a run stopped by a time limit keeps what it measured."""
        if not args.out:
            return
        import json
        result = dict(schema=SCHEMA, version=VERSION, label=args.label or f"pytorch {torch.cuda.get_device_name()}",
                      suites=suites, mode="quick" if args.quick else "full",
                      date=datetime.datetime.now(datetime.timezone.utc).isoformat(), engine=engine,
                      runtime=dict(name="python", version=platform.python_version()), device=dev, rows=rows, skipped=skipped)
        with open(args.out + ".tmp", "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        os.replace(args.out + ".tmp", args.out)

    for suite in suites:
        for wl in lists[suite](args.quick):
            if args.only and not any(s in wl["id"] for s in args.only.split(",")):
                continue
            for dtype in wl["dtypes"]:
                if dtype not in want:
                    continue
                try:
                    r = run_one(wl, dtype, suite, plan)
                    rows.append(r)
                    rate = r.get("metrics", {}).get("tokensPerSecond")
                    print(f"  {r['id']} [{dtype}]: {r['stats']['medianMs']:.4g} ms, "
                          + (f"{rate:.4g} tok/s" if rate is not None else f"{r['tflops']:.4g} TFLOP/s {r['gbps']:.4g} GB/s")
                          + f", check {r['check']['maxError']:.1e} {'ok' if r['check']['passed'] else 'FAILED'}", flush=True)
                except Exception as e:  # out of memory, an unsupported kernel: record it and go on
                    skipped.append(dict(id=wl["id"], dtype=dtype, suite=suite, reason=f"error: {type(e).__name__}: {e}"[:500]))
                    print(f"  {wl['id']} [{dtype}]: {skipped[-1]['reason']}", flush=True)
                    set_precision("f32")
                    torch.cuda.empty_cache()
                write()
    write()
    if args.out:
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
