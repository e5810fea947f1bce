#!/bin/sh
# The Python packages bench/gpu.py needs that the device machines' image lacks (it has Python
# 3.12 with torch, numpy, pandas, scipy, scikit-learn, matplotlib, pyarrow, requests, ...: see
# /work/.library/device/KINDS.md), as wheels in .whl/ at this checkout's root (ignored: .gitignore), at the versions of
# constraints.txt: MLflow's tracking client and sqlite store (mlflow-skinny, which holds every
# file of mlflow-tracing, and SQLAlchemy/alembic) and torch-fidelity, with what they import.
# Found by running bench/gpu.py here and listing the distributions of every module it loaded,
# then running it with every other package hidden (databricks-sdk and google-auth are not needed).
#
#   sh bench/gpu_wheels.sh            # here, once; then carry .whl (docs/gpu.md)
set -eu
cd "$(dirname "$0")/.."
pin() { grep -i "^$1==" constraints.txt | head -1; }
mkdir -p .whl
for name in mlflow-skinny SQLAlchemy alembic Mako torch_fidelity cachetools \
    fastapi starlette cryptography cffi importlib_metadata \
    opentelemetry-api opentelemetry-proto opentelemetry-sdk opentelemetry-semantic-conventions \
    pydantic pydantic_core annotated-types typing-inspection sniffio sqlparse; do
  spec=$(pin "$name")
  [ -n "$spec" ] || { echo "gpu_wheels.sh: $name is not pinned in constraints.txt" >&2; exit 1; }
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl "$spec"
done
du -sh .whl
