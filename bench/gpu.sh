#!/usr/bin/env bash
# GPU figures for golddiff in one run (bench/gpu.py has the details):
#   bash bench/gpu.sh [OUT_DIR]         on a GPU: engine vs HF generate, learner tokens/s and MFU, in-flight
#                                       weight updates, golddiff doctor in bf16; at most 8 minutes
#   bash bench/gpu.sh --dry [OUT_DIR]   on CPU with tiny shapes (also what runs when no GPU is visible)
# Figures go to OUT_DIR/gpu.json (default: $OUT, else runs/bench-gpu); the last line printed is a JSON summary.
# Python: $PYTHON, else .venv/bin/python when there is one, else python3 (the device's, which holds torch).
# When pydantic is missing (the GPU device lacks it), the wheels in .whl/ (bench/gpu_wheels.sh fetches
# them; bench/README.md) are installed into a private folder first.
set -euo pipefail
cd "$(dirname "$0")/.."

dry=()
out="${OUT:-runs/bench-gpu}"
for arg in "$@"; do
  case "$arg" in
    --dry) dry=(--dry) ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "bench/gpu.sh: unknown option $arg (expected --dry and an output folder)" >&2; exit 2 ;;
    *) out="$arg" ;;
  esac
done

if [ -n "${PYTHON:-}" ]; then py="$PYTHON"
elif [ -x .venv/bin/python ]; then py=.venv/bin/python
else py=python3
fi

if ! "$py" -c "import pydantic" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
  site="${TMPDIR:-/tmp}/golddiff-gpu-site"
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

# the hard stop: 8 minutes (bench/gpu.py skips phases past its own budget well before)
exec timeout --kill-after=10 480 "$py" bench/gpu.py ${dry[@]+"${dry[@]}"} --out "$out"
