"""What a metric computes from: fixed inputs, identical for every run, and one evaluation's context.

Evaluation must never move the training RNG stream (a run has to train identically whether or not
it evaluates), so every random draw here comes from a fresh `torch.Generator` seeded from
`FIXED_SEED` and a purpose name, and anything that might touch the global stream runs inside
`fork_rng`. Not the run's seed: runs that differ only in their seed are scored on the same images
and latents, so their numbers differ by their weights alone.

A metric in the registry is a function of an `EvalContext`; values two metrics need (the
reconstructions, the test encodings, the training mean) are computed once per evaluation through
`shared`. This module imports no metric: the metric modules are built on it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn

from benchmark.data import DataBundle, as_float

if TYPE_CHECKING:
    from benchmark.evaluation.settings import EvalConfig

FIXED_SEED = 2016  # the seed of every fixed input (and of the FID classifier)

# --- tensors ---------------------------------------------------------------------------------

def as_unit_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]; float tensors (model outputs, points) pass through."""
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    return x.float()


def to_uint8_rgb(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) uint8 or float in [0, 1] -> uint8 (N, 3, H, W): torch-fidelity's input format.

    Quantising happens here only, at the FID boundary; grayscale is repeated to three channels.
    """
    assert x.dim() == 4 and x.shape[1] in (1, 3), tuple(x.shape)
    if x.dtype != torch.uint8:
        x = (x.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int,
            device: torch.device) -> torch.Tensor:
    """Apply `fn` to x in batches on `device` and concatenate the results on the CPU."""
    outs = [fn(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else x[:0]


def purpose_generator(seed: int, purpose: str) -> torch.Generator:
    """A generator that gives the same stream for the same (seed, purpose), run after run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(purpose.encode()))


def fixed_normal(shape: tuple[int, ...], seed: int, purpose: str) -> torch.Tensor:
    """Standard normal draws (latents, encoder noise) that every evaluation of every run shares."""
    return torch.randn(shape, generator=purpose_generator(seed, purpose))


def fixed_indices(total: int, count: int, seed: int, purpose: str) -> torch.Tensor:
    """`count` distinct indices into `total` items, the same for every run."""
    assert 0 < count <= total, (count, total)
    return torch.randperm(total, generator=purpose_generator(seed, purpose))[:count]


@contextmanager
def fork_rng(device: torch.device) -> Iterator[None]:
    """Restore the global torch RNG (and the CUDA device's) on exit."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        yield


class Reconstructions(NamedTuple):
    sample: torch.Tensor  # Gx(mu + sigma * eps), like x
    mean: torch.Tensor  # Gx(mu), like x


@torch.no_grad()
def reconstruct(ali: nn.Module, x: torch.Tensor, eps: torch.Tensor, batch_size: int,
                device: torch.device) -> Reconstructions:
    """Both reconstructions of x (float, model range) with encoder noise eps (len(x), z_dim)."""
    assert len(eps) == len(x), (eps.shape, x.shape)
    samples, means = [], []
    for i in range(0, len(x), batch_size):
        out = ali.encoder(x[i : i + batch_size].to(device), eps[i : i + batch_size].to(device))
        samples.append(ali.code_decoder(out.z).cpu())
        means.append(ali.code_decoder(out.mu).cpu())
    return Reconstructions(torch.cat(samples), torch.cat(means))


def mean_input(train_x: torch.Tensor, chunk: int = 4096, power: int = 1) -> torch.Tensor:
    """The training mean of x ** power in the model's range, (1, ...), summed in chunks of
    float64 (power 2 gives the second moment the pixel-Gaussian FID baseline needs)."""
    total = torch.zeros((1, *train_x.shape[1:]), dtype=torch.float64)
    for i in range(0, len(train_x), chunk):
        total += as_float(train_x[i : i + chunk]).double().pow(power).sum(dim=0, keepdim=True)
    return total / len(train_x)


# --- the fixed inputs ------------------------------------------------------------------------

@dataclass(frozen=True)
class FixedInputs:
    """Indices into the data's splits; latents are drawn on demand because z_dim comes later."""

    data: DataBundle
    recon: torch.Tensor  # test indices for recon_mse and recon_acc
    panel: torch.Tensor  # test indices of the reconstruction panel (a prefix of the recon order)
    test: torch.Tensor  # test indices the probe and 1-NN are scored on
    knn_train: torch.Tensor  # training indices the 1-NN searches
    probe_draws: tuple[torch.Tensor, ...]  # training indices, per_class of each class per draw
    fid_real: torch.Tensor  # test indices of the real images for FID/KID
    pairs: tuple[torch.Tensor, torch.Tensor]  # test indices of the interpolation endpoints

    def test_x(self, idx: torch.Tensor) -> torch.Tensor:
        """Test inputs at idx in the model's range (float)."""
        return as_float(self.data.test.x[idx])

    def train_x(self, idx: torch.Tensor) -> torch.Tensor:
        """Training inputs at idx in the model's range (float)."""
        return as_float(self.data.train.x[idx])


def draw_per_class(y: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """`per_class` distinct indices of each label in y (all of a class if it has fewer)."""
    picks = []
    for label in torch.unique(y).tolist():
        members = torch.nonzero(y == label).flatten()
        picks.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(picks)


def latents(count: int, z_dim: int, purpose: str) -> torch.Tensor:
    """Fixed standard normal (count, z_dim): prior samples or encoder noise, per purpose."""
    return fixed_normal((count, z_dim), FIXED_SEED, purpose)


def build_fixed_inputs(cfg: EvalConfig, data: DataBundle) -> FixedInputs:
    """Choose every fixed index set once (counts beyond a split are cut: see `settings.check_counts`)."""
    n_train, n_test = len(data.train), len(data.test)

    def pick(total: int, count: int, purpose: str) -> torch.Tensor:
        return fixed_indices(total, max(1, min(count, total)), FIXED_SEED, purpose)

    pairs = pick(n_test, 2 * cfg.panel_count, "pairs")
    half = max(1, len(pairs) // 2)
    generator = purpose_generator(FIXED_SEED, "probe_draws")
    return FixedInputs(
        data=data,
        recon=pick(n_test, cfg.recon_count, "recon"),
        panel=pick(n_test, cfg.panel_count, "recon"),
        test=pick(n_test, cfg.probe_test_count, "test"),
        knn_train=pick(n_train, cfg.knn_train_count, "knn_train"),
        probe_draws=tuple(draw_per_class(data.train.y, cfg.probe_per_class, generator)
                          for _ in range(cfg.probe_draws)),
        fid_real=pick(n_test, cfg.fid_real_count, "fid_real"),
        pairs=(pairs[:half], pairs[-half:]),
    )


# --- one evaluation --------------------------------------------------------------------------

@dataclass
class EvalContext:
    """What a metric computes from: the evaluation's settings, device and fixed inputs, the
    instruments the Evaluator lends (built on first call), and the model scored. `encoder` alone
    is enough for the encoder metrics (the random-encoder baselines use that; None when a run has
    no way to build one); `ali` is needed by everything that decodes."""

    settings: EvalConfig
    device: torch.device
    inputs: FixedInputs
    classifier: Callable[[], nn.Module]  # trained or loaded on first call
    fid_weights: Callable[[], str | None]  # torch-fidelity's feature_extractor_weights_path
    encoder: nn.Module | None = None
    ali: nn.Module | None = None
    _shared: dict[str, Any] = field(default_factory=dict)

    @property
    def res(self) -> EvalContext:
        """The context itself: plug-ins written for the nested `ctx.res.inputs` keep working."""
        return self

    def scoring(self, encoder: nn.Module | None, ali: nn.Module | None = None) -> EvalContext:
        """A fresh context (nothing shared yet) on the same inputs, scoring other networks."""
        return EvalContext(self.settings, self.device, self.inputs, self.classifier,
                           self.fid_weights, encoder, ali)

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """compute() once per evaluation; later metrics reuse the value."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def means(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder means mu(x), batched, on the CPU."""
        assert self.encoder is not None, "means need an encoder"
        return batched(lambda b: self.encoder(b).mu, x, self.settings.batch_size, self.device)

    def test_means(self) -> torch.Tensor:
        """mu of the fixed probe/1-NN test inputs."""
        return self.shared("test_means", lambda: self.means(self.inputs.test_x(self.inputs.test)))

    def recon_x(self) -> torch.Tensor:
        """The fixed recon inputs (test split, model range)."""
        return self.shared("recon_x", lambda: self.inputs.test_x(self.inputs.recon))

    def train_mean(self) -> torch.Tensor:
        """The training split's mean input, (1, ...) float64."""
        return self.shared("train_mean", lambda: mean_input(self.inputs.data.train.x))

    def reconstructions(self) -> Reconstructions:
        """Gx(Gz(x)) of the fixed recon inputs, with fixed encoder noise."""
        assert self.ali is not None, "reconstructions need the decoder"

        def compute() -> Reconstructions:
            eps = latents(len(self.inputs.recon), self.ali.z_dim, "recon_eps")
            return reconstruct(self.ali, self.recon_x(), eps, self.settings.batch_size,
                               self.device)

        return self.shared("reconstructions", compute)

    def decoded(self, count: int, purpose: str) -> torch.Tensor:
        """Gx(z) for `count` fixed prior latents named by `purpose`, on the CPU."""
        assert self.ali is not None, "samples need the decoder"
        z = latents(count, self.ali.z_dim, purpose)
        return batched(self.ali.decoder, z, self.settings.batch_size, self.device)
