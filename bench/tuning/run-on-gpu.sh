#!/usr/bin/env bash
# One device call's worth of kernel benchmarking on the NVIDIA machine (see ../shared/gpu/README.md):
#   here:   npm ci && ../shared/gpu/pack.sh && npx esbuild bench/tuning/kernels-main.ts --bundle --platform=node \
#             --format=esm --outfile=dist/bench-kernels.js --external:webgpu
#   there:  source .gpu/remote-env.sh; bash bench/tuning/run-on-gpu.sh $OUT [extra bench-kernels args, e.g. --variants]
# PyTorch first (its JSON is the reference for --compare), then wgrad's bench twice (run-to-run spread),
# then once with Dawn's robustness transform off; each in its own process (dawn.node can abort at exit).
set -uo pipefail
out=${1:?usage: run-on-gpu.sh OUTDIR [bench-kernels args]}; shift
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$out/gpu.txt"
PYTHONUNBUFFERED=1 python3 bench/tuning/torch_kernels.py --out "$out/torch.json" 2>&1 | tee "$out/torch.log"
node dist/bench-kernels.js --out "$out/wgrad.json" --compare "$out/torch.json" "$@" 2>&1 | tee "$out/wgrad.log"
node dist/bench-kernels.js --out "$out/wgrad-repeat.json" --compare "$out/torch.json" 2>&1 | tee "$out/wgrad-repeat.log"
node dist/bench-kernels.js --toggles disable_robustness,disable_workgroup_init --sizes 4096 \
  --out "$out/wgrad-norobust.json" --compare "$out/torch.json" "$@" 2>&1 | tee "$out/wgrad-norobust.log"
