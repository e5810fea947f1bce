"""alibench: a reproducibility benchmark suite for Adversarially Learned Inference."""

import os

# Deterministic cuBLAS needs a fixed workspace configuration, read once per process when its
# first cuBLAS handle is made (the first matmul on a CUDA device); torch's deterministic mode
# refuses CUDA matmuls without it (warns under warn_only). Set here, at the package's import,
# because that precedes every CUDA call the suite makes (and `torch` need not be loaded for it);
# spawned workers inherit it. A value the user exported wins. docs/gpu.md, "Determinism".
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
