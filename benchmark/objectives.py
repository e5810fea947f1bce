"""Training objectives: what the encoder and decoder minimise, and whether a discriminator plays.

`ali` is Algorithm 1 of the ALI paper: the discriminator tells encoder pairs (x, Gz(x)) from
decoder pairs (Gx(z), z), the encoder and decoder fool it, and the stabilizers' hooks apply.
`autoencoder` is its control: the same encoder and decoder, on the same draws, trained on the
stabilizers' generator terms alone, i.e. ALICE's reconstruction terms of `cycle_consistency`
(weight * mean((x - Gx(Gz(x)))^2) with z the encoder's sample, z_weight * mean((z - mu(Gx(z)))^2)
on the prior draws), with no discriminator update and no adversarial loss. A study with the
cycle term can then put "ALI + cycle" beside "autoencoder" (the same cycle entry) and "ALI".

A `Game` is the objective at a `Draw` (data, prior and encoder noise): the update schemes
(`schemes.py`) call it for losses. The objective is chosen by `train.objective`; the update
schemes ask it whether the discriminator plays, and skip its gradient work when it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from benchmark.errors import ConfigError
from benchmark.losses import discriminator_loss, generator_loss
from benchmark.models import ALI
from benchmark.precision import PRECISIONS, Precision
from benchmark.registry import Registry
from benchmark.stabilizers import Pairs, Stabilizer


@dataclass
class Draw:
    """Everything random a forward pass consumes besides dropout: data, prior and encoder noise,
    and the seed of the stabilizers' noise (instance noise), so reusing a draw reuses all of it."""

    x: torch.Tensor  # (B, C, H, W) or (B, D)
    z_prior: torch.Tensor  # (B, z_dim)
    eps: torch.Tensor  # (B, z_dim), the encoder's reparametrization noise
    noise_seed: int | None = None  # seeds the stabilizers' generator; None when none draws


class Game:
    """The training objective at a draw: both players' losses (or, under the autoencoder
    objective, the encoder and decoder's alone), with the stabilizers' hooks applied."""

    def __init__(self, ali: ALI, stabilizers: list[Stabilizer], next_batch: Callable[[], torch.Tensor],
                 device: torch.device, objective: Objective | None = None,
                 precision: Precision | None = None):
        self.ali = ali
        self.stabilizers = stabilizers
        self.next_batch = next_batch
        self.device = device
        self.objective = objective if objective is not None else OBJECTIVES.get("ali")
        self.precision = precision if precision is not None else PRECISIONS.get("fp32")
        self.step = 0  # the training step; stabilizer schedules read it
        self.evaluations = 0  # gradient evaluations so far: forward passes of the game

    @property
    def discriminator_plays(self) -> bool:
        return self.objective.discriminator_plays

    def draw(self) -> Draw:
        x = self.next_batch().to(self.device)
        batch = x.shape[0]
        z_prior = torch.randn(batch, self.ali.z_dim, device=self.device)
        eps = torch.randn(batch, self.ali.z_dim, device=self.device)
        noise_seed = None
        if any(s.draws_noise for s in self.stabilizers):
            noise_seed = int(torch.randint(2**62, (1,)))
        return Draw(x, z_prior, eps, noise_seed)

    def losses(self, draw: Draw, generator_terms: bool = True) -> Losses:
        """The objective's losses at `draw`; `generator_terms=False` skips the generator's
        regularizers (their extra forward passes) where only the discriminator's loss is used.
        Each call is one gradient evaluation of the compute budget."""
        self.evaluations += 1
        with self.precision.autocast(self.device):  # bf16: the forward pass; backward follows it
            return self.objective.losses(self, draw, generator_terms)


@dataclass
class Losses:
    """One forward pass's losses and what the instruments read from it; `loss_d` and the logits
    are None when no discriminator plays. The schemes add the gradient norms of the update."""

    loss_g: torch.Tensor
    loss_d: torch.Tensor | None = None
    logits_enc: torch.Tensor | None = None  # D's logits on encoder pairs, detached
    logits_dec: torch.Tensor | None = None  # on decoder pairs
    grad_norm_d: torch.Tensor | None = None  # L2 norm of D's gradient in its (last) update
    grad_norm_g: torch.Tensor | None = None  # of the encoder's and decoder's, together

    def finite(self) -> bool:
        return all(bool(torch.isfinite(t)) for t in (self.loss_d, self.loss_g) if t is not None)

    def stats(self) -> dict[str, float]:
        """What a logged step records (keys in docs/CONTRACTS.md)."""
        out = {"loss_g": self.loss_g.item()}
        if self.grad_norm_g is not None:
            out["grad_norm_g"] = self.grad_norm_g.item()
        if self.loss_d is None:
            return out
        out["loss_d"] = self.loss_d.item()
        if self.grad_norm_d is not None:
            out["grad_norm_d"] = self.grad_norm_d.item()
        enc, dec = self.logits_enc, self.logits_dec
        out.update({
            "d_real": float(torch.sigmoid(enc).mean()), "d_fake": float(torch.sigmoid(dec).mean()),
            "d_logit_enc": float(enc.mean()), "d_logit_dec": float(dec.mean()),
            "d_accuracy_enc": float((enc > 0).float().mean()),
            "d_accuracy_dec": float((dec < 0).float().mean())})
        return out


class Objective:
    """Base class: the losses of one forward pass at a draw."""

    name: ClassVar[str]
    discriminator_plays: ClassVar[bool]

    def losses(self, game: Game, draw: Draw, generator_terms: bool) -> Losses:
        raise NotImplementedError

    def check(self, stabilizers: list[Stabilizer], d_steps: int) -> None:
        """Refuse, before a run, settings this objective cannot use (a ConfigError)."""


def generator_terms_of(game: Game, draw: Draw, encoded, x_fake: torch.Tensor) -> torch.Tensor | None:
    """The sum of the stabilizers' generator terms, from the step's clean inputs (None: none)."""
    total = None
    for stabilizer in game.stabilizers:
        extra = stabilizer.generator_penalty(game.ali, draw.x, encoded, draw.z_prior, x_fake,
                                             game.step)
        if extra is not None:
            total = extra if total is None else total + extra
    return total


class Adversarial(Objective):
    """ALI's game, with the stabilizers' hooks applied."""

    name = "ali"
    discriminator_plays = True

    def losses(self, game: Game, draw: Draw, generator_terms: bool) -> Losses:
        """`generator_terms=False` skips the generator's regularizers (their extra forward
        passes) where only the discriminator's loss is used."""
        ali = game.ali
        encoded = ali.encoder(draw.x, draw.eps)
        x_fake = ali.decoder(draw.z_prior)
        pairs = Pairs(draw.x, encoded.z, x_fake, draw.z_prior)
        noise = None
        if draw.noise_seed is not None:
            noise = torch.Generator(device=game.device).manual_seed(draw.noise_seed)
        for stabilizer in game.stabilizers:
            pairs = stabilizer.perturb(pairs, game.step, noise)
        d = ali.discriminator
        logits_enc, logits_dec = d(pairs.x_enc, pairs.z_enc), d(pairs.x_dec, pairs.z_dec)
        target_enc, target_dec = 1.0, 0.0
        for stabilizer in game.stabilizers:
            target_enc, target_dec = stabilizer.targets(target_enc, target_dec)
        loss_d = discriminator_loss(logits_enc, logits_dec, target_enc, target_dec)
        for stabilizer in game.stabilizers:
            extra = stabilizer.penalty(d, pairs, game.step)
            if extra is not None:
                loss_d = loss_d + extra
        loss_g = generator_loss(logits_enc, logits_dec)
        if generator_terms:
            extra = generator_terms_of(game, draw, encoded, x_fake)
            if extra is not None:
                loss_g = loss_g + extra
        return Losses(loss_g, loss_d, logits_enc.detach(), logits_dec.detach())


class Autoencoder(Objective):
    """The encoder and decoder on the stabilizers' reconstruction terms alone. The forward
    passes are ALI's without the discriminator (the decoder also decodes the prior draw, as
    in ALI, whether or not the latent cycle uses it), so only the loss differs."""

    name = "autoencoder"
    discriminator_plays = False

    def losses(self, game: Game, draw: Draw, generator_terms: bool) -> Losses:
        encoded = game.ali.encoder(draw.x, draw.eps)
        x_fake = game.ali.decoder(draw.z_prior)
        total = generator_terms_of(game, draw, encoded, x_fake)
        assert total is not None, "check() refuses an autoencoder without reconstruction terms"
        return Losses(total)

    def check(self, stabilizers: list[Stabilizer], d_steps: int) -> None:
        for i, stabilizer in enumerate(stabilizers):
            if not stabilizer.trains_generator():
                raise ConfigError(
                    f"stabilizers[{i}].name: {stabilizer.name!r} adds nothing to the "
                    f"reconstruction terms that train.objective 'autoencoder' trains on (no "
                    f"discriminator plays); list only cycle_consistency with a weight above 0")
        if not stabilizers:
            raise ConfigError("train.objective: 'autoencoder' trains on the stabilizers' "
                              "reconstruction terms and none is listed; add "
                              "{name: cycle_consistency, weight: ...} to stabilizers")
        if d_steps != 1:
            raise ConfigError(f"scheme.d_steps: {d_steps} has no effect under train.objective "
                              f"'autoencoder' (no discriminator); leave it at 1")


def _check_objective(name: str, objective: Objective) -> None:
    if not isinstance(objective, Objective):
        raise TypeError(f"objective {name!r}: {objective!r} is not an Objective")


OBJECTIVES: Registry[Objective] = Registry("objective", "train.objective", check=_check_objective)
for _objective in (Adversarial(), Autoencoder()):
    OBJECTIVES.register(_objective.name, _objective)
