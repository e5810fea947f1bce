"""Stabilizers: hooks on the discriminator's inputs, its targets, its loss and its layers, and
on the generator's loss (regularizers such as ALICE's cycle-consistency term).

A run lists them (`stabilizers: [{name: instance_noise, std: 0.1}, {name: label_smoothing}]`);
they compose in the order listed and know the step, so schedules are theirs. Adding one is one
class with an options dataclass and one `STABILIZERS.register` line (here, or in a plug-in).

Randomness: a stabilizer that draws (instance noise) sets `draws_noise` and takes its numbers from
the `generator` it is handed. The update scheme seeds that generator from the step's draw, so a
scheme that reuses a draw (extragradient without resampling) reuses the noise too.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models import ALI, EncoderOutput
from benchmark.registry import Registry
from benchmark.validation import from_dict


class Pairs(NamedTuple):
    """The discriminator's two kinds of input: encoder pairs (x, Gz(x)), decoder pairs (Gx(z), z)."""

    x_enc: torch.Tensor
    z_enc: torch.Tensor
    x_dec: torch.Tensor
    z_dec: torch.Tensor


class Stabilizer:
    """Base class: every hook is the identity, a stabilizer overrides the ones it needs."""

    name: ClassVar[str]
    Options: ClassVar[type]
    draws_noise: ClassVar[bool] = False  # perturb() uses its generator
    double_backward: ClassVar[bool] = False  # penalty() differentiates a gradient (not compilable)

    def __init__(self, options) -> None:
        self.options = options

    def wrap_discriminator(self, discriminator: nn.Module) -> nn.Module:
        return discriminator

    def perturb(self, pairs: Pairs, step: int, generator: torch.Generator | None) -> Pairs:
        """Change what the discriminator sees (in both players' losses), never the reconstruction.
        Random numbers come from `generator` only (given when `draws_noise` is set)."""
        return pairs

    def targets(self, target_enc: float, target_dec: float) -> tuple[float, float]:
        """The discriminator's targets for encoder and decoder pairs."""
        return target_enc, target_dec

    def penalty(self, discriminator: nn.Module, pairs: Pairs, step: int) -> torch.Tensor | None:
        """A term added to the discriminator's loss."""
        return None

    def generator_penalty(self, ali: ALI, x: torch.Tensor, encoded: EncoderOutput,
                          z_prior: torch.Tensor, x_fake: torch.Tensor,
                          step: int) -> torch.Tensor | None:
        """A term added to the encoder and decoder's loss, from the step's clean inputs: real x,
        its encoding, the prior draw and its decoding (before any `perturb`)."""
        return None

    def trains_generator(self) -> bool:
        """Whether `generator_penalty` adds a term: what `train.objective: autoencoder` trains."""
        return False


# ---------------------------------------------------------------------------------------------


@dataclass
class InstanceNoiseOptions:
    std: float = field(default=0.1, metadata={"help": "initial noise std on images", "min": 0.0})
    z_std: float = field(default=0.0, metadata={"help": "initial noise std on z", "min": 0.0})
    schedule: str = field(default="linear", metadata={
        "help": "how the std goes to zero", "choices": ["constant", "linear", "exponential"]})
    anneal_steps: int = field(default=1000, metadata={
        "help": "steps until the std reaches zero (linear, exponential)", "min": 1})
    decay_rate: float = field(default=5.0, metadata={
        "help": "exponential: std * (exp(-k t/T) - exp(-k)) / (1 - exp(-k))", "gt": 0.0})


def noise_scale(options: InstanceNoiseOptions, step: int) -> float:
    """The fraction of the initial std left at `step` (1 at step 0, 0 from anneal_steps on)."""
    if options.schedule == "constant":
        return 1.0
    t = min(step, options.anneal_steps) / options.anneal_steps
    if options.schedule == "linear":
        return 1.0 - t
    k = options.decay_rate
    return (math.exp(-k * t) - math.exp(-k)) / (1.0 - math.exp(-k))


class InstanceNoise(Stabilizer):
    """Gaussian noise on the discriminator's inputs (Arjovsky & Bottou 2017), for both pair kinds."""

    name = "instance_noise"
    Options = InstanceNoiseOptions

    draws_noise = True

    def perturb(self, pairs: Pairs, step: int, generator: torch.Generator | None) -> Pairs:
        scale = noise_scale(self.options, step)
        x_std, z_std = self.options.std * scale, self.options.z_std * scale

        def noisy(t: torch.Tensor, std: float) -> torch.Tensor:
            if std <= 0:
                return t
            noise = torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)
            return t + std * noise

        return Pairs(noisy(pairs.x_enc, x_std), noisy(pairs.z_enc, z_std),
                     noisy(pairs.x_dec, x_std), noisy(pairs.z_dec, z_std))


@dataclass
class LabelSmoothingOptions:
    alpha: float = field(default=0.1, metadata={"help": "real target is 1 - alpha",
                                                "min": 0.0, "max": 0.5})
    two_sided: bool = field(default=False, metadata={
        "help": "also fake target alpha; this CHANGES the optimal discriminator (Salimans 2016)"})


class LabelSmoothing(Stabilizer):
    """One-sided by default: only the encoder ("real") pairs' target moves, to 1 - alpha."""

    name = "label_smoothing"
    Options = LabelSmoothingOptions

    def targets(self, target_enc: float, target_dec: float) -> tuple[float, float]:
        alpha = self.options.alpha
        return target_enc - alpha, (target_dec + alpha if self.options.two_sided else target_dec)


@dataclass
class GradientPenaltyOptions:
    gamma: float = field(default=10.0, metadata={"help": "weight: gamma/2 * E|grad D|^2",
                                                 "min": 0.0})
    kind: str = field(default="r1", metadata={
        "help": "r1: encoder pairs (real x), r2: decoder pairs, both",
        "choices": ["r1", "r2", "both"]})


def joint_gradient_penalty(discriminator: nn.Module, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """E |d D(x, z) / d(x, z)|^2 of the logits, with respect to both x and z of the joint input."""
    x = x.detach().requires_grad_(True)
    z = z.detach().requires_grad_(True)
    logits = discriminator(x, z)
    grad_x, grad_z = torch.autograd.grad(logits.sum(), (x, z), create_graph=True)
    return grad_x.flatten(1).pow(2).sum(1).mean() + grad_z.flatten(1).pow(2).sum(1).mean()


class GradientPenalty(Stabilizer):
    """R1 (Mescheder et al. 2018) on encoder pairs, R2 on decoder pairs, on the joint input."""

    name = "gradient_penalty"
    Options = GradientPenaltyOptions
    double_backward = True

    def penalty(self, discriminator: nn.Module, pairs: Pairs, step: int) -> torch.Tensor | None:
        total = torch.zeros((), device=pairs.x_enc.device)
        if self.options.kind in ("r1", "both"):
            total = total + joint_gradient_penalty(discriminator, pairs.x_enc, pairs.z_enc)
        if self.options.kind in ("r2", "both"):
            total = total + joint_gradient_penalty(discriminator, pairs.x_dec, pairs.z_dec)
        return 0.5 * self.options.gamma * total


@dataclass
class SpectralNormOptions:
    power_iterations: int = field(default=1, metadata={"help": "power iterations per forward",
                                                       "min": 1, "max": 10})


class SpectralNorm(Stabilizer):
    """Spectral normalisation (Miyato et al. 2018) of every discriminator conv and linear layer."""

    name = "spectral_norm"
    Options = SpectralNormOptions

    def wrap_discriminator(self, discriminator: nn.Module) -> nn.Module:
        for module in list(discriminator.modules()):
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.utils.parametrizations.spectral_norm(
                    module, n_power_iterations=self.options.power_iterations)
        return discriminator


@dataclass
class CycleConsistencyOptions:
    weight: float = field(default=1.0, metadata={
        "help": "weight of mean((x - Gx(Gz(x)))^2) in the generator's loss", "min": 0.0})
    z_weight: float = field(default=0.0, metadata={
        "help": "weight of mean((z - mu(Gx(z)))^2) on prior draws (the latent cycle)",
        "min": 0.0})


class CycleConsistency(Stabilizer):
    """ALICE's explicit conditional-entropy regularizer (Li et al. 2017, the l2 cycle form):
    the encoder and decoder also minimise weight * mean((x - Gx(Gz(x)))^2), per pixel, with
    z the encoder's sample, the remedy for ALI's unfaithful reconstructions. `z_weight` adds the
    latent cycle mean((z - mu(Gx(z)))^2) on the prior draws. The discriminator is untouched."""

    name = "cycle_consistency"
    Options = CycleConsistencyOptions

    def trains_generator(self) -> bool:
        return self.options.weight > 0 or self.options.z_weight > 0

    def generator_penalty(self, ali: ALI, x: torch.Tensor, encoded: EncoderOutput,
                          z_prior: torch.Tensor, x_fake: torch.Tensor,
                          step: int) -> torch.Tensor | None:
        weight, z_weight = self.options.weight, self.options.z_weight
        total = None
        if weight > 0:  # a zero weight runs nothing: BatchNorm statistics stay as without it
            total = weight * (ali.decoder(encoded.z) - x).pow(2).mean()
        if z_weight > 0:
            term = z_weight * (ali.encoder(x_fake).mu - z_prior).pow(2).mean()
            total = term if total is None else total + term
        return total


# ---------------------------------------------------------------------------------------------

def _check_stabilizer(name: str, cls: type[Stabilizer]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Stabilizer)):
        raise TypeError(f"stabilizer {name!r}: {cls!r} is not a Stabilizer subclass")
    if not dataclasses.is_dataclass(getattr(cls, "Options", None)):
        raise TypeError(f"stabilizer {name!r}: its Options must be a dataclass")


STABILIZERS: Registry[type[Stabilizer]] = Registry("stabilizer", "stabilizers[i].name",
                                                   check=_check_stabilizer)


def parse_stabilizers(raw: list[dict]) -> list[Stabilizer]:
    """Validate and build the listed stabilizers, in order."""
    built = []
    for i, entry in enumerate(raw):
        where = f"stabilizers[{i}]"
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"{where}: expected a mapping with a 'name', got {entry!r}")
        options = dict(entry)
        cls = STABILIZERS.get(options.pop("name"), field=f"{where}.name")
        built.append(cls(from_dict(cls.Options, options, f"{where}")))
    names = [s.name for s in built]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"stabilizers: {duplicated[0]!r} is listed twice; list it once")
    return built


def describe_stabilizers(raw: list[dict]) -> str:
    """A readable param value: `instance_noise(std=0.1)+label_smoothing(alpha=0.1)`."""
    if not raw:
        return "none"
    parts = []
    for entry in raw:
        options = ",".join(f"{k}={v}" for k, v in sorted(entry.items()) if k != "name")
        parts.append(f"{entry['name']}({options})" if options else entry["name"])
    return "+".join(parts)


for _cls in (InstanceNoise, LabelSmoothing, GradientPenalty, SpectralNorm, CycleConsistency):
    STABILIZERS.register(_cls)
