"""The benchmark's optimizers by name, and the config's `optim` section that picks one.

An entry of `OPTIMIZERS` is an `OptimizerSpec`: the optimizer class (from `optim/`, torch or a
plug-in), the hyperparameters it takes from the `optim` section as `Option`s (default, bounds,
help, how a run name shows it) and how they become its constructor's arguments. Adding an
optimizer, even one with a hyperparameter no other has, is that one `OPTIMIZERS.register` call:
its options become keys of the `optim` section, validated, in the run key, the params and the run
name, and reach its constructor. The paper's defaults (Adam betas 0.5, 0.999) live here, not in
`optim/`, which stays a plain torch-optimizer package.

Checked against the scheme elsewhere (`benchmark.schemes.check_scheme_optimizer`): the
extragradient scheme needs an optimizer with `extrapolate()`, the others a plain one. Negative
momentum is allowed only under the schemes a spec lists (Gidel et al. 2019: alternating only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from benchmark.errors import ConfigError
from benchmark.registry import Registry
from benchmark.validation import check_value, key_text
from optim import (
    AVERAGE_KINDS,
    ExtraAdam,
    ExtragradientOptimizer,
    ExtraSGD,
    OptimisticAdam,
    OptimisticSGD,
    PastExtraAdam,
    PastExtraSGD,
    SignedMomentumSGD,
)

OPTION_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class Option:
    """One hyperparameter an optimizer takes from the `optim` section. Its type is its
    default's; `label(value)` is how a run name shows a value other than the default
    (default: `<name><value>`, `no<name>` for a false flag)."""

    default: bool | int | float | str
    help: str
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    choices: tuple | None = None
    label: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        if type(self.default) not in OPTION_TYPES or not self.help:
            raise ValueError(f"an Option needs a default of type bool, int, float or str and a "
                             f"help line, got {self.default!r}, {self.help!r}")

    def metadata(self) -> dict[str, Any]:
        """The bounds as settings-field metadata (docs/CONTRACTS.md), for the validation leaf."""
        meta = {"min": self.min, "max": self.max, "gt": self.gt, "choices": self.choices}
        return {"help": self.help, **{k: v for k, v in meta.items() if v is not None}}

    def check(self, path: str, value: Any) -> Any:
        """The value as its type (1 -> 1.0 for a float), or a one-line ConfigError."""
        return check_value(path, value, type(self.default), self.metadata())

    def show(self, name: str, value: Any) -> str:
        if self.label is not None:
            return self.label(value)
        if isinstance(value, bool):
            return name if value else f"no{name}"
        return f"{name}{value:g}" if isinstance(value, (int, float)) else f"{name}_{value}"


# The options of the built-in optimizers; an option two optimizers share is one declaration.
BETA1 = Option(0.5, "Adam's first moment decay (the ALI paper's 0.5)", min=0.0, max=0.999999)
BETA2 = Option(0.999, "Adam's second moment decay (the paper's 'beta2 = 1e-3' is 1 - 0.999)",
               min=0.0, max=0.999999)
MOMENTUM = Option(0.0, "heavy-ball momentum; negative (Gidel et al. 2019) only for sgd under the "
                       "alternating scheme", min=-0.999999, max=0.999999,
                  label=lambda v: f"mom{v:g}")
MOMENTS_ON_EXTRAPOLATION = Option(
    True, "extragradient optimizers: whether moments (Adam) or momentum (SGD) also advance on "
          "the extrapolation; published code does both",
    label=lambda v: "moments" if v else "nomoments")

# Every run key has carried these four since the options were fixed fields of the section; they
# stay in every key (at their defaults when the optimizer ignores them) so old keys still match.
# Any other option enters the key only for the optimizers that take it.
ALWAYS_KEYED = {"beta1": BETA1, "beta2": BETA2, "momentum": MOMENTUM,
                "moments_on_extrapolation": MOMENTS_ON_EXTRAPOLATION}


def _same_names(options: dict[str, Any]) -> dict[str, Any]:
    return dict(options)


def betas(options: dict[str, Any]) -> dict[str, Any]:
    """`beta1`, `beta2` -> torch's `betas=(beta1, beta2)`; the other options pass as they are."""
    rest = {k: v for k, v in options.items() if k not in ("beta1", "beta2")}
    return {"betas": (options["beta1"], options["beta2"]), **rest}


@dataclass(frozen=True)
class OptimizerSpec:
    """How to build one optimizer: its class, the options it takes, how they become its
    keyword arguments (default: by the same names), and the schemes under which its momentum
    may be negative (none: momentum >= 0 only)."""

    cls: type[torch.optim.Optimizer]
    options: dict[str, Option] = field(default_factory=dict)
    kwargs: Callable[[dict[str, Any]], dict[str, Any]] = _same_names
    negative_momentum_schemes: tuple[str, ...] = ()

    @property
    def extragradient(self) -> bool:
        """Whether the optimizer needs the extragradient update scheme."""
        return issubclass(self.cls, ExtragradientOptimizer)

    @property
    def extrapolation_needs_gradient(self) -> bool:
        return getattr(self.cls, "extrapolation_needs_gradient", True)


def _check_spec(name: str, spec: OptimizerSpec) -> None:
    if not isinstance(spec, OptimizerSpec) or not (
            isinstance(spec.cls, type) and issubclass(spec.cls, torch.optim.Optimizer)):
        raise TypeError(f"optimizer {name!r} needs an OptimizerSpec of a torch Optimizer")
    declared = declared_options()
    for option, declaration in spec.options.items():
        if not isinstance(declaration, Option) or not option.isidentifier():
            raise TypeError(f"optimizer {name!r}: option {option!r} must be an identifier "
                            f"mapped to an Option")
        if option in GENERAL_FIELDS:
            raise ValueError(f"optimizer {name!r}: option {option!r} is already a field of "
                             f"the optim section")
        if option in declared and declared[option] != declaration:
            raise ValueError(f"optimizer {name!r}: option {option!r} is declared differently "
                             f"by another optimizer; share one Option")


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer", "optim.name", check=_check_spec)


def declared_options() -> dict[str, Option]:
    """Every option some registered optimizer takes: the `optim` section's extra keys."""
    declared = dict(ALWAYS_KEYED)
    for _, spec in OPTIMIZERS.items():
        declared.update(spec.options)
    return declared


def names_for(extragradient: bool) -> list[str]:
    """The optimizers with `extrapolate()` (True) or the plain ones (False)."""
    return [n for n, spec in OPTIMIZERS.items() if spec.extragradient == extragradient]


def is_extragradient(name: str, field: str = "optim.name") -> bool:
    """Whether optimizer `name` has `extrapolate()` (needs the extragradient scheme)."""
    return OPTIMIZERS.get(name, field).extragradient


def canonical_options(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The `optim` section's optimizer options in one form: each given value checked and of its
    type, the always-keyed ones and those optimizer `name` takes filled with their defaults, an
    option it ignores kept only when not at its default (`check_optimizer` then refuses it)."""
    declared = declared_options()
    checked = {}
    for option, value in given.items():
        if option not in declared:
            raise ConfigError(f"optim.{key_text(option)}: unknown key; valid keys here: "
                              f"{', '.join([*GENERAL_FIELDS, *sorted(declared)])}")
        checked[option] = declared[option].check(f"optim.{option}", value)
    taken = OPTIMIZERS[name].options if name in OPTIMIZERS else {}
    out = {}
    for option in sorted(declared):
        if option in ALWAYS_KEYED or option in taken:
            out[option] = checked.get(option, declared[option].default)
        elif option in checked and checked[option] != declared[option].default:
            out[option] = checked[option]
    return out


def check_optimizer(name: str, options: dict[str, Any], scheme: str | None = None,
                    field: str = "optim.name") -> dict[str, Any]:
    """The options optimizer `name` takes, at their values; one it ignores must be at its
    default, and negative momentum must fit the optimizer and (when given) the scheme."""
    spec = OPTIMIZERS.get(name, field)
    declared = declared_options()
    for option, value in options.items():
        if option not in spec.options and value != declared[option].default:
            takes = ", ".join(["lr_g", "lr_d", *spec.options])
            raise ConfigError(f"optim.{option}: value {value!r} has no effect with {field} "
                              f"{name!r}; leave it at {declared[option].default!r} ({name} "
                              f"takes: {takes})")
    momentum = options.get("momentum", 0.0)
    allowed = spec.negative_momentum_schemes
    if momentum < 0 and (not allowed or (scheme is not None and scheme not in allowed)):
        takers = sorted(f"{n} under scheme.name {'/'.join(s.negative_momentum_schemes)}"
                        for n, s in OPTIMIZERS.items() if s.negative_momentum_schemes)
        where = f"{field} {name!r}" + (f" and scheme.name {scheme!r}" if scheme else "")
        raise ConfigError(f"optim.momentum: negative value {momentum!r} does not fit {where}; "
                          f"negative momentum (Gidel et al. 2019) fits only: {', '.join(takers)}")
    return {option: options.get(option, d.default) for option, d in spec.options.items()}


def build_optimizer(name: str, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
                    lr: float, options: dict[str, Any] | None = None,
                    field: str = "optim.name") -> torch.optim.Optimizer:
    """Build optimizer `name` over `params` with the `optim` options given (the rest at their
    defaults); `field` names the config field in errors."""
    spec = OPTIMIZERS.get(name, field)
    given = canonical_options(name, options or {})
    taken = check_optimizer(name, given, field=field)
    return spec.cls(params, lr=lr, **spec.kwargs(taken))


# ---------------------------------------------------------------------------------------------
# The config's `optim` section.


@dataclass
class OptimConfig:
    name: str = field(default="adam", metadata={
        "help": "optimizer of both players", "choices": OPTIMIZERS.names})
    lr_g: float = field(default=2e-4, metadata={
        "help": "step size of the encoder and decoder (seed report Table 1: 2e-4)", "gt": 0.0})
    lr_d: float = field(default=1e-4, metadata={
        "help": "step size of the discriminator (Table 1: 1e-5 MNIST, 1e-4 SVHN/CelebA)",
        "gt": 0.0})
    averaging: list[str] = field(default_factory=list, metadata={
        "help": "averages of the encoder and decoder parameters also scored, e.g. [uniform, ema]",
        "choices": list(AVERAGE_KINDS)})
    ema_decay: float = field(default=0.999, metadata={
        "help": "decay of the ema average", "min": 0.0, "max": 0.999999})
    lookahead_k: int = field(default=0, metadata={
        "help": "lookahead-minmax (Chavdarova et al. 2021): pull both players toward their slow "
                "weights every k steps (0: off)", "min": 0, "max": 1_000_000})
    lookahead_alpha: float = field(default=0.5, metadata={
        "help": "lookahead-minmax: slow <- slow + alpha (fast - slow) at each pull",
        "gt": 0.0, "max": 1.0})
    options: dict = field(default_factory=dict, metadata={
        "help": "the optimizer's own hyperparameters, written beside the fields above "
                "(`optim.beta1`, `optim.momentum`, ...): each optimizer's `OptimizerSpec` "
                "declares them", "rest": True})

    def __post_init__(self) -> None:
        # Held canonical, so the run key, the params and the run name see one form.
        self.options = canonical_options(self.name, self.options)

    def __getattr__(self, name: str) -> Any:
        """An option reads like a field: `cfg.optim.beta1`, `cfg.optim.momentum`."""
        options = self.__dict__.get("options")
        if options is not None and name in options:
            return options[name]
        declared = declared_options()
        if not name.startswith("_") and name in declared:
            return declared[name].default
        raise AttributeError(f"OptimConfig has no field or option {name!r}")


GENERAL_FIELDS = [f for f in OptimConfig.__dataclass_fields__ if f != "options"]


def validate_optim(cfg: OptimConfig, scheme: str) -> None:
    """The checks across the section's fields: options against the optimizer and the scheme,
    lookahead's alpha only with lookahead on, each average listed once."""
    check_optimizer(cfg.name, cfg.options, scheme=scheme)
    alpha_default = OptimConfig.__dataclass_fields__["lookahead_alpha"].default
    if cfg.lookahead_k == 0 and cfg.lookahead_alpha != alpha_default:
        raise ConfigError(f"optim.lookahead_alpha: value {cfg.lookahead_alpha!r} has no effect "
                          f"with optim.lookahead_k 0 (off); leave it at {alpha_default!r}")
    if len(set(cfg.averaging)) != len(cfg.averaging):
        raise ConfigError(f"optim.averaging: {cfg.averaging!r} lists a kind twice; list each "
                          f"once")


def option_labels(cfg: OptimConfig, flags: bool | None = None) -> list[str]:
    """How a run name shows the options its optimizer takes that are not at their defaults
    (only the true/false ones, or only the others, when `flags` says so)."""
    spec = OPTIMIZERS[cfg.name]
    return [option.show(name, cfg.options[name]) for name, option in spec.options.items()
            if cfg.options[name] != option.default
            and (flags is None or isinstance(option.default, bool) == flags)]


for _name, _spec in {
    "sgd": OptimizerSpec(SignedMomentumSGD, {"momentum": MOMENTUM},
                         negative_momentum_schemes=("alternating",)),
    "adam": OptimizerSpec(torch.optim.Adam, {"beta1": BETA1, "beta2": BETA2}, betas),
    "optimistic_sgd": OptimizerSpec(OptimisticSGD),
    "optimistic_adam": OptimizerSpec(OptimisticAdam, {"beta1": BETA1, "beta2": BETA2}, betas),
    "extra_sgd": OptimizerSpec(ExtraSGD, {"momentum": MOMENTUM,
                                          "moments_on_extrapolation": MOMENTS_ON_EXTRAPOLATION}),
    "past_extra_sgd": OptimizerSpec(PastExtraSGD, {
        "momentum": MOMENTUM, "moments_on_extrapolation": MOMENTS_ON_EXTRAPOLATION}),
    "extra_adam": OptimizerSpec(ExtraAdam, {
        "beta1": BETA1, "beta2": BETA2, "moments_on_extrapolation": MOMENTS_ON_EXTRAPOLATION},
        betas),
    "past_extra_adam": OptimizerSpec(PastExtraAdam, {
        "beta1": BETA1, "beta2": BETA2, "moments_on_extrapolation": MOMENTS_ON_EXTRAPOLATION},
        betas),
}.items():
    OPTIMIZERS.register(_name, _spec)
