#!/usr/bin/env bash
# The main job on the built-in default: synthetic rooms + a tiny Qwen2.5-VL, every HATCH stage, the
# evaluation with its blind control, and the report. Called by `make demo`; the venv is made by make.
set -euo pipefail
run_dir=${1:-runs/tiny-cpu}
# A model this small is faster on one thread per process than on two competing ones.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
.venv/bin/hatchvl pipeline configs/tiny-cpu.yaml --run-dir "$run_dir"
.venv/bin/hatchvl data show "$run_dir/data" --index 0 --split test --out "$run_dir/sample.png"
echo "report: $run_dir/report.md   sample picture: $run_dir/sample.png"
