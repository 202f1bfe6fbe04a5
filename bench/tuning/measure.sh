#!/usr/bin/env bash
# One device call that measures wgrad and PyTorch side by side on the GPU machine (see
# ../shared/gpu/README.md), each piece in its own process under its own time limit, results in OUT.
#   here:   npm run build && npx esbuild bench/tuning/step-profile.ts --bundle --platform=node --format=esm \
#             --outfile=dist/step-profile.js --external:webgpu && (same for attention.ts → dist/attention-tuning.js) \
#             && ../shared/gpu/pack.sh
#   there:  source .gpu/remote-env.sh; bash bench/tuning/measure.sh $OUT [pieces...]
# carry [".gpu", "dist/cli.js", "dist/step-profile.js", "dist/attention-tuning.js"].
# Pieces (default: profile training kernels attention generation, in this order; also grpo); KERNELS=ids
# picks the kernel workloads (default attention,lora_linear). A device command may run 10 minutes:
# the default pieces' limits add up to ~12.5 min and grpo alone to ~9, so split them over calls.
# Each result file is rewritten after every row, so a piece cut by its limit keeps what it measured.
set -uo pipefail
out=${1:?usage: measure.sh OUTDIR [pieces...]}; shift
pieces=${*:-profile training kernels attention generation}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$out/gpu.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oiE 'h100|h200|a100|l40s' | tr A-Z a-z)
gpu=${gpu:-gpu}
run() { # run SECONDS LOG CMD...: a piece with its own limit, its log kept
  local limit=$1 log=$2; shift 2
  echo "== $* (limit ${limit}s)" | tee -a "$out/$log"
  timeout "$limit" "$@" >> "$out/$log" 2>&1; echo "== exit $?" >> "$out/$log"
}
for p in $pieces; do
  case $p in
    profile) run 60 profile.txt node dist/step-profile.js --only lora_sft_step_smollm2,dpo_step --json "$out/$gpu-profile.json" ;;
    training)
      run 150 training.txt python3 bench/reference/torch_bench.py --suite training --dtypes f32,bf16 --only lora_sft_step,dpo_step --out "$out/$gpu-torch-training.json"
      run 150 training.txt node dist/cli.js bench --suite training --backend webgpu --only lora_sft_step,dpo_step --out "$out/$gpu-wgrad-training.json" ;;
    grpo) # PyTorch: ~12 s a step, 4 steps per dtype; wgrad's step did not finish 4 inside 180 s at a65caff
      run 120 grpo.txt python3 bench/reference/torch_bench.py --suite training --dtypes f32 --only grpo --out "$out/$gpu-torch-grpo.json"
      run 400 grpo.txt node dist/cli.js bench --suite training --backend webgpu --only grpo --out "$out/$gpu-wgrad-grpo.json" ;;
    kernels)
      run 45 kernels.txt python3 bench/reference/torch_bench.py --suite kernels --dtypes f32,bf16 --only "${KERNELS:-attention,lora_linear}" --out "$out/$gpu-torch-kernels.json"
      run 45 kernels.txt node dist/cli.js bench --suite kernels --backend webgpu --only "${KERNELS:-attention,lora_linear}" --out "$out/$gpu-wgrad-kernels.json" ;;
    attention) run 80 attention.txt node dist/attention-tuning.js ;;
    generation)
      run 120 generation.txt python3 bench/reference/torch_bench.py --suite generation --dtypes f32 --only smollm2 --out "$out/$gpu-torch-generation.json"
      run 120 generation.txt node dist/cli.js bench --suite generation --backend webgpu --only smollm2 --out "$out/$gpu-wgrad-generation.json" ;;
    *) echo "measure.sh: unknown piece '$p' (profile training grpo kernels attention generation)" >&2; exit 2 ;;
  esac
done
