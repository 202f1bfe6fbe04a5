#!/usr/bin/env python3
"""PyTorch reference for bench/kernels.ts: the same workloads on the same GPU, the same JSON shape.

Rows: matmul at 1024/2048/4096 in f32 with TF32 off (what wgrad's f32 kernel must match), the
4096 transposes (x·Wᵀ and Xᵀ·dY), TF32 and bf16 rows for scale, add of two 64M-element arrays,
a full sum over 64M elements, and a device-to-device copy. Each row is the median over repeats
timed with CUDA events, after warm-up; matmul results are checked against float64 on sampled
elements, as the wgrad bench does.

    python3 bench/tuning/torch_kernels.py --out torch.json [--quick]
"""
import argparse
import datetime
import json
import statistics

import torch


def time_ms(fn, samples, warmup, target_ms):
    """Median ms per call: `inner` calls between two CUDA events per sample, inner sized to target_ms."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    one = max(start.elapsed_time(end), 1e-3)
    inner = max(1, min(200, int(target_ms / one + 0.999)))
    per = []
    for _ in range(samples):
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        torch.cuda.synchronize()
        per.append(start.elapsed_time(end) / inner)
    return statistics.median(per), min(per), len(per)


def label(n):
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10}K"
    return str(n)


def matmul_row(s, trans_a, trans_b, mode, t):
    """mode: 'f32' (TF32 off), 'tf32', or 'bf16'."""
    gen = torch.Generator(device="cuda").manual_seed(1)
    dtype = torch.bfloat16 if mode == "bf16" else torch.float32
    a = (torch.rand(s, s, device="cuda", generator=gen) * 2 - 1).to(dtype)
    b = (torch.rand(s, s, device="cuda", generator=gen) * 2 - 1).to(dtype)
    # Stored layouts as in wgrad: transA means A is stored [K, M] and used as its transpose.
    op_a = a.t() if trans_a else a
    op_b = b.t() if trans_b else b
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    torch.set_float32_matmul_precision("high" if mode == "tf32" else "highest")
    out = torch.empty(s, s, device="cuda", dtype=dtype)
    ms, mn, n = time_ms(lambda: torch.matmul(op_a, op_b, out=out), *t)
    # Check sampled elements against float64 (relative to Σ|a·b|, as bench/workloads.ts does).
    idx = torch.randint(0, s, (64, 2), generator=torch.Generator().manual_seed(2))
    A64, B64 = op_a.double(), op_b.double()
    worst = 0.0
    for i, j in idx.tolist():
        terms = A64[i, :] * B64[:, j]
        err = abs(out[i, j].double().item() - terms.sum().item()) / max(terms.abs().sum().item(), 1e-30)
        worst = max(worst, err)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    flops = 2 * s ** 3
    elt = 2 if mode == "bf16" else 4
    tr = ("t" if trans_a else "n") + ("t" if trans_b else "n")
    return {
        "name": f"matmul_{mode}_{s}_{tr}", "op": "matmul", "dtype": mode, "shape": [1, s, s, s],
        "transA": trans_a, "transB": trans_b, "ms": ms, "minMs": mn, "samples": n,
        "gflops": flops / ms / 1e6, "gbps": 3 * s * s * elt / ms / 1e6,
        "kernel": f"torch.matmul ({'TF32 on' if mode == 'tf32' else 'TF32 off' if mode == 'f32' else 'bf16'})",
        "maxRelErr": worst,
    }


def add_row(n, t):
    a = torch.rand(n, device="cuda") * 2 - 1
    b = torch.rand(n, device="cuda") * 2 - 1
    out = torch.empty_like(a)
    ms, mn, k = time_ms(lambda: torch.add(a, b, out=out), *t)
    err = ((out - (a + b)).abs().max() / (a.abs() + b.abs()).max()).item()
    return {"name": f"add_f32_{label(n)}", "op": "add", "dtype": "f32", "shape": [n], "ms": ms, "minMs": mn,
            "samples": k, "gflops": n / ms / 1e6, "gbps": 12 * n / ms / 1e6, "kernel": "torch.add", "maxRelErr": err}


def sum_row(n, t):
    x = torch.rand(n, device="cuda") * 2 - 1
    out = torch.empty((), device="cuda")
    ms, mn, k = time_ms(lambda: torch.sum(x, dim=0, out=out), *t)
    ref = x.double().sum().item()
    err = abs(out.item() - ref) / x.double().abs().sum().item()
    return {"name": f"sum_f32_{label(n)}", "op": "sum", "dtype": "f32", "shape": [n], "ms": ms, "minMs": mn,
            "samples": k, "gflops": n / ms / 1e6, "gbps": 4 * n / ms / 1e6, "kernel": "torch.sum", "maxRelErr": err}


def copy_row(n, t):
    src = torch.rand(n, device="cuda")
    dst = torch.empty_like(src)
    ms, mn, k = time_ms(lambda: dst.copy_(src), *t)
    return {"name": f"copy_f32_{label(n)}", "op": "copy", "dtype": "f32", "shape": [n], "ms": ms, "minMs": mn,
            "samples": k, "gflops": 0, "gbps": 8 * n / ms / 1e6, "kernel": "Tensor.copy_"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the JSON report here")
    ap.add_argument("--quick", action="store_true", help="tiny sizes")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_kernels.py: no CUDA device")
    t = (5, 1, 5) if args.quick else (15, 3, 20)  # samples, warm-up, target ms per sample
    sizes = [64, 128, 256] if args.quick else [1024, 2048, 4096]
    n = (1 << 20) if args.quick else (64 << 20)
    rows = []

    def emit(r):
        rows.append(r)
        print(f"  {r['name']}: {r['ms']:.4g} ms, {r['gflops']:.4g} GFLOP/s, {r['gbps']:.4g} GB/s"
              + (f" relerr {r['maxRelErr']:.1e}" if "maxRelErr" in r else ""), flush=True)

    for s in sizes:
        emit(matmul_row(s, False, False, "f32", t))
    big = sizes[-1]
    emit(matmul_row(big, False, True, "f32", t))
    emit(matmul_row(big, True, False, "f32", t))
    for s in sizes:
        emit(matmul_row(s, False, False, "tf32", t))
    for s in sizes:
        emit(matmul_row(s, False, False, "bf16", t))
    emit(add_row(n, t))
    emit(sum_row(n, t))
    emit(copy_row(n, t))
    report = {
        "suite": "kernels", "engine": f"torch {torch.__version__}", "device": torch.cuda.get_device_name(),
        "timing": "cuda-events", "quick": args.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "rows": rows,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
