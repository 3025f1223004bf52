#!/usr/bin/env bash
# The GPU benchmark in one command (issue: training throughput). About 8 minutes on one H100:
#   bash benchmarks/gpu.sh [OUT_DIR]
# writes OUT_DIR/gpu.json and OUT_DIR/gpu.md (default benchmarks/gpu-results). It needs the
# project installed with a GPU build of each engine it races (TensorFlow, JAX, PyTorch); rows whose
# engine is missing or fails are reported with the error, not dropped.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/gpu-results}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
exec python benchmarks/gpu.py --out "$OUT" --budget-s "${BUDGET_S:-450}"
