"""Update schemes: the order of both players' gradient work in one training step.

A scheme is chosen by name, separately from the optimizer, and validated together with it. Each
player's gradient is always that of its OWN loss, taken with `torch.autograd.grad` before any
parameter moves, so no player is ever updated in place while the other still needs the graph.

A scheme with options declares them as stabilizers do: an `Options` dataclass whose fields carry
their default, help, bounds and, in `label` and `describe`, how a run's name and description
show a value other than the default. They are keys of the `scheme` section (`scheme.d_steps`);
a scheme that does not take one refuses it at any other value than its default, naming the
schemes that take it. Adding a scheme, options and all, is one class and one
`SCHEMES.register` line (here, or in a plug-in).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.objectives import OBJECTIVES, Draw, Game, Losses  # noqa: F401  (Draw: imported from here too)
from benchmark.optimizers import OPTIMIZERS, names_for
from benchmark.registry import Registry
from benchmark.validation import (
    declared_fields,
    non_default_labels,
    option_types,
    parse_entry_options,
    same_declaration,
)


def set_gradients(loss: torch.Tensor, params: list[nn.Parameter],
                  retain_graph: bool) -> torch.Tensor:
    """Write d loss / d params into `.grad`, touching no other parameter's gradient; returns
    the gradient's total L2 norm over `params` (an instrument: reading it changes nothing)."""
    grads = torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True)
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.zeros_like(p) if g is None else g
    with torch.no_grad():
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in params])))


def both_gradients(game: Game, draw: Draw) -> Losses:
    """Each player's gradient of its own loss at the same point, before anything moves (the
    discriminator's only when it plays)."""
    losses = game.losses(draw)
    if game.discriminator_plays:
        losses.grad_norm_d = set_gradients(losses.loss_d, game.ali.discriminator_parameters(),
                                           retain_graph=True)
    losses.grad_norm_g = set_gradients(losses.loss_g, game.ali.generator_parameters(),
                                       retain_graph=False)
    return losses


@dataclass
class Players:
    game: Game
    opt_d: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer

    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]:
        """The optimizers that move: the discriminator's sits out when it does not play."""
        return (self.opt_d, self.opt_g) if self.game.discriminator_plays else (self.opt_g,)


@dataclass
class NoOptions:
    """A scheme that takes no options."""


class UpdateScheme:
    """One training step; `step` returns the losses measured at the update point. Built from
    its `Options` (or from their values as keywords: `Alternating(d_steps=3)`)."""

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    needs_extragradient: ClassVar[bool] = False

    def __init__(self, options: Any = None, **values: Any):
        self.options = options if options is not None else self.Options(**values)

    def step(self, players: Players) -> Losses:
        raise NotImplementedError

    def evaluations_per_step(self, extrapolation_needs_gradient: bool,
                             discriminator_plays: bool = True) -> int:
        """Gradient evaluations (forward passes of the game) one step costs."""
        raise NotImplementedError


@dataclass
class AlternatingOptions:
    d_steps: int = field(default=1, metadata={
        "help": "alternating: discriminator updates per generator update", "min": 1, "max": 100,
        "label": lambda v: f"d{v}", "describe": lambda v: f"{v} D steps"})


class Alternating(UpdateScheme):
    """`d_steps` discriminator updates, then one encoder+decoder update, each with its own forward."""

    name = "alternating"
    Options = AlternatingOptions

    def step(self, players: Players) -> Losses:
        game = players.game
        draw, grad_norm_d = None, None
        for _ in range(self.options.d_steps if game.discriminator_plays else 0):
            draw = game.draw()
            losses = game.losses(draw, generator_terms=False)
            grad_norm_d = set_gradients(losses.loss_d, game.ali.discriminator_parameters(),
                                        retain_graph=False)
            players.opt_d.step()
        # The generator's forward pass sees the discriminator it just played against, updated.
        losses = game.losses(game.draw() if draw is None else draw)
        losses.grad_norm_g = set_gradients(losses.loss_g, game.ali.generator_parameters(),
                                           retain_graph=False)
        losses.grad_norm_d = grad_norm_d  # the last discriminator update's
        players.opt_g.step()
        return losses

    def evaluations_per_step(self, extrapolation_needs_gradient: bool,
                             discriminator_plays: bool = True) -> int:
        return (self.options.d_steps if discriminator_plays else 0) + 1


class Simultaneous(UpdateScheme):
    """One forward pass; both players step from the same point (the original ALI code)."""

    name = "simultaneous"

    def step(self, players: Players) -> Losses:
        losses = both_gradients(players.game, players.game.draw())
        for opt in players.optimizers():
            opt.step()
        return losses

    def evaluations_per_step(self, extrapolation_needs_gradient: bool,
                             discriminator_plays: bool = True) -> int:
        return 1


@dataclass
class ExtragradientOptions:
    resample: bool = field(default=True, metadata={
        "help": "extragradient: fresh minibatch, prior and encoder noise for the update step",
        "describe": lambda v: "resampling" if v else "no resampling"})


class Extragradient(UpdateScheme):
    """Extrapolate both players, then update both from the saved point with the gradient taken
    at the extrapolated point by a fresh forward pass (Gidel et al. 2018, Algorithm 1).

    `resample` draws a fresh minibatch, prior and encoder noise for the update (two minibatches
    per update, as in the paper); otherwise the extrapolation's draw is reused. Extrapolation
    from the past needs no gradient for its extrapolation, so it draws once either way.

    Buffers (BatchNorm running statistics, spectral-norm vectors) go back to w_t with the
    parameters: they move once per update, on the forward pass at w_t, as in the other schemes.
    Extrapolation from the past has no pass at w_t, so its buffers move on the pass at w_{t+1/2}.
    """

    name = "extragradient"
    Options = ExtragradientOptions
    needs_extragradient = True

    def step(self, players: Players) -> Losses:
        game, opts = players.game, players.optimizers()
        needs_gradient = all(getattr(o, "extrapolation_needs_gradient", True) for o in opts)
        draw, buffers = None, None
        if needs_gradient:
            draw = game.draw()
            both_gradients(game, draw)
            buffers = [b.clone() for b in game.ali.buffers()]
        for opt in opts:
            opt.extrapolate()
        if draw is None or self.options.resample:
            draw = game.draw()
        losses = both_gradients(game, draw)
        if buffers is not None:
            with torch.no_grad():
                for live, saved in zip(game.ali.buffers(), buffers, strict=True):
                    live.copy_(saved)
        for opt in opts:
            opt.step()
        return losses

    def evaluations_per_step(self, extrapolation_needs_gradient: bool,
                             discriminator_plays: bool = True) -> int:
        return 2 if extrapolation_needs_gradient else 1


def _check_scheme(name: str, cls: type[UpdateScheme]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, UpdateScheme)):
        raise TypeError(f"scheme {name!r}: {cls!r} is not an UpdateScheme subclass")
    if not dataclasses.is_dataclass(getattr(cls, "Options", None)):
        raise TypeError(f"scheme {name!r}: its Options must be a dataclass")
    declared = declared_fields(_options_classes())
    for option, declaration in option_types(cls.Options).items():
        if option == "name":
            raise ValueError(f"scheme {name!r}: option 'name' is already a field of the scheme "
                             f"section")
        if option in declared and not same_declaration(declared[option], declaration):
            raise ValueError(f"scheme {name!r}: option {option!r} is declared differently by "
                             f"another scheme; share one declaration")


SCHEMES: Registry[type[UpdateScheme]] = Registry("scheme", "scheme.name", check=_check_scheme)


def _options_classes() -> dict[str, type]:
    return {n: cls.Options for n, cls in SCHEMES.items()}


for _cls in (Alternating, Simultaneous, Extragradient):
    SCHEMES.register(_cls)


@dataclass
class SchemeConfig:
    name: str = field(default="alternating", metadata={
        "help": "the order of both players' gradient work per step", "choices": SCHEMES.names})
    options: Any = field(default=None, metadata={
        "help": "the scheme's own options, written beside its name (`scheme.d_steps`, "
                "`scheme.resample`): its `Options` dataclass", "entry_options": True})
    ignored: dict = field(default_factory=dict, init=False, repr=False)

    # Every run key (and the params) has carried d_steps and resample since they were fixed
    # fields of the section: they stay written, at their defaults under a scheme without them.
    WRITTEN_SINCE_FIRST_RELEASE: ClassVar[dict[str, Any]] = {
        **dataclasses.asdict(AlternatingOptions()), **dataclasses.asdict(ExtragradientOptions())}

    def __post_init__(self) -> None:
        given = self.options if isinstance(self.options, dict) else (
            {} if self.options is None else {**dataclasses.asdict(self.options), **self.ignored})
        self.options, self.ignored = parse_entry_options("scheme", _options_classes(), self.name,
                                                         given, ["name"])

    def written_options(self) -> dict[str, Any]:
        """The options as the section is written out (run key, params, `exclude` rules)."""
        written = {**self.WRITTEN_SINCE_FIRST_RELEASE, **dataclasses.asdict(self.options),
                   **self.ignored}
        return dict(sorted(written.items()))

    def labels(self) -> list[str]:
        """How a run name shows the scheme's options that are not at their defaults (`d5`)."""
        return non_default_labels(self.options)

    def described(self) -> list[str]:
        """The same in words, for the run's description (`5 D steps`)."""
        return [f.metadata["describe"](getattr(self.options, f.name))
                for f in dataclasses.fields(self.options)
                if getattr(self.options, f.name) != f.default and "describe" in f.metadata]


def check_scheme_options(cfg: SchemeConfig) -> None:
    """An option the chosen scheme does not take must be at its default: one line naming the
    field, the value and the schemes that take it."""
    for option, value in cfg.ignored.items():
        takers = [n for n, cls in SCHEMES.items()
                  if option in {f.name for f in dataclasses.fields(cls.Options)}]
        default = declared_fields(_options_classes())[option][1].default
        raise ConfigError(f"scheme.{option}: value {value!r} has no effect with scheme.name "
                          f"{cfg.name!r}; leave it at {default!r} (taken by scheme.name: "
                          f"{', '.join(takers)})")


def check_scheme_optimizer(scheme: str, optimizer: str) -> None:
    """The extragradient scheme needs an optimizer with `extrapolate()`; the others must not."""
    fits = names_for(extragradient=SCHEMES.get(scheme).needs_extragradient)
    if optimizer not in fits:
        raise ConfigError(f"optim.name: {optimizer!r} does not fit scheme.name {scheme!r}; "
                          f"choose from: {', '.join(fits)}")


def total_steps(cfg) -> int:
    """The run's steps: `train.steps`, or the `train.grad_evals` budget divided by what one step
    of its scheme and optimizer costs (alternating d_steps + 1, simultaneous 1, extragradient 2,
    extrapolation from the past 1; alternating costs 1 under the autoencoder objective, which
    has no discriminator step)."""
    if cfg.train.grad_evals is None:
        return cfg.train.steps
    spec = OPTIMIZERS.get(cfg.optim.name)
    plays = OBJECTIVES.get(cfg.train.objective).discriminator_plays
    per_step = SCHEMES.get(cfg.scheme.name)(cfg.scheme.options).evaluations_per_step(
        spec.extrapolation_needs_gradient, plays)
    steps = cfg.train.grad_evals // per_step
    if steps < 1:
        raise ConfigError(f"train.grad_evals: {cfg.train.grad_evals} buys no step of "
                          f"{cfg.scheme.name} with {cfg.optim.name} ({per_step} per step); "
                          f"choose at least {per_step}")
    return steps
