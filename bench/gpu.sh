#!/usr/bin/env bash
# The GPU benchmark of issue 17 on a fresh NVIDIA machine, in under eight minutes: a venv of its own with a
# CUDA build of torch (the CPU-only rule of the Makefile is for CPU machines), diffusers and transformers, then
# bench/gpu_bench.py, which prints a Markdown section for docs/benchmarks.md.
#   bench/gpu.sh                      # install into $GPU_BENCH_VENV (default /tmp/underpaint-gpu-venv), measure
#   GPU_BENCH_PYTHON=python3 bench/gpu.sh   # use a Python that already has CUDA torch + diffusers: no install
#   bench/gpu.sh --mode max-autotune-no-cudagraphs   # arguments go to gpu_bench.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${GPU_BENCH_PYTHON:-}"
if [ -z "$python" ]; then
  venv="${GPU_BENCH_VENV:-/tmp/underpaint-gpu-venv}"
  cuda="${GPU_BENCH_CUDA:-cu128}"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "torch==2.13.0" --index-url "https://download.pytorch.org/whl/$cuda"
  "$venv/bin/pip" install -q "diffusers>=0.42,<0.50" "transformers>=4.46,<6" "accelerate>=1.0,<2" "safetensors>=0.4"
  python="$venv/bin/python"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
exec timeout "${GPU_BENCH_TIMEOUT:-420}" "$python" "$here/gpu_bench.py" "$@"
