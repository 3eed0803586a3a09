#!/usr/bin/env bash
# Fetch what bench/gpu.sh needs and the GPU device lacks: pydantic and its requirements (typing-extensions
# too: pydantic needs a recent one), as Python 3.12 x86-64 wheels into .whl/ (which git ignores), at the
# versions installed in this checkout's .venv. The device has torch, transformers, safetensors, pyarrow,
# pyyaml and rich. Run it here once, then carry .whl in the device call (bench/README.md):
#   bash bench/gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"

exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
mkdir -p .whl

specs=$("$py" - <<'PY'
from importlib.metadata import PackageNotFoundError, version

out = []
for name in ("pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions"):
    try:
        out.append(f"{name}=={version(name)}")
    except PackageNotFoundError:  # typing-inspection: pydantic >= 2.11 only
        pass
print(" ".join(out))
PY
)
echo "downloading $specs"
# shellcheck disable=SC2086
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $specs
ls -l .whl
