#!/usr/bin/env bash
# Everything that needs CUDA, in a few minutes on one GPU: the checks of scripts/gpu_check.py
# (precision policy, syncs per epoch, CPU/GPU agreement, epoch times, a study with gpu: 0.25),
# then the two GPU benchmarks. Each prints JSON lines; run it from the repository root after
# the README's install command:   bash scripts/gpu_check.sh 2>&1 | tee gpu_check.log
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
python scripts/gpu_check.py "$@" || status=$?
if [[ " $* " != *" --dry-run "* ]]; then
    python benchmarks/trainer_overhead.py --device cuda --repeats 2 || status=1
    python benchmarks/trainer_overhead.py --device cuda --precision bf16 --repeats 2 || status=1
    python benchmarks/softsign_cell.py --device cuda --repeats 2 || status=1
fi
exit $status
