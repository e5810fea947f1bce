"""The benchmark's optimizers by name, and the config's `optim` section that picks one.

An entry of `OPTIMIZERS` is an `OptimizerSpec`: the optimizer class (from `optim/`, torch or a
plug-in), its `Options` dataclass (the hyperparameters it takes from the `optim` section, each a
field with its default, help, bounds and, in `label`, how a run name shows it: the stabilizers'
and schemes' pattern) and how they become its constructor's arguments. Adding an optimizer, even
one with a hyperparameter no other has, is that dataclass and one `OPTIMIZERS.register` call:
its options become keys of the `optim` section, validated, in the run key, the params and the run
name, and reach its constructor. The paper's defaults (Adam betas 0.5, 0.999) live here, not in
`optim/`, which stays a plain torch-optimizer package.

Checked against the scheme elsewhere (`benchmark.schemes.check_scheme_optimizer`): the
extragradient scheme needs an optimizer with `extrapolate()`, the others a plain one. Negative
momentum is allowed only under the schemes a spec lists (Gidel et al. 2019: alternating only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from benchmark.errors import ConfigError
from benchmark.registry import Registry
from benchmark.validation import (
    declared_fields,
    non_default_labels,
    option_types,
    parse_entry_options,
    same_declaration,
)
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

# The options of the built-in optimizers; an option two optimizers share is one declaration
# (a shared base dataclass, or one metadata mapping), as `_check_spec` requires.
MOMENTS_ON_EXTRAPOLATION = {
    "help": "extragradient optimizers: whether moments (Adam) or momentum (SGD) also advance on "
            "the extrapolation; published code does both",
    "label": lambda v: "moments" if v else "nomoments"}


@dataclass
class NoOptions:
    """An optimizer that takes nothing beyond the learning rates."""


@dataclass
class AdamOptions:
    beta1: float = field(default=0.5, metadata={
        "help": "Adam's first moment decay (the ALI paper's 0.5)", "min": 0.0, "max": 0.999999})
    beta2: float = field(default=0.999, metadata={
        "help": "Adam's second moment decay (the paper's 'beta2 = 1e-3' is 1 - 0.999)",
        "min": 0.0, "max": 0.999999})


@dataclass
class MomentumOptions:
    momentum: float = field(default=0.0, metadata={
        "help": "heavy-ball momentum; negative (Gidel et al. 2019) only for sgd under the "
                "alternating scheme", "min": -0.999999, "max": 0.999999,
        "label": lambda v: f"mom{v:g}"})


@dataclass
class ExtraSGDOptions(MomentumOptions):
    moments_on_extrapolation: bool = field(default=True, metadata=MOMENTS_ON_EXTRAPOLATION)


@dataclass
class ExtraAdamOptions(AdamOptions):
    moments_on_extrapolation: bool = field(default=True, metadata=MOMENTS_ON_EXTRAPOLATION)


def betas(options: dict[str, Any]) -> dict[str, Any]:
    """`beta1`, `beta2` -> torch's `betas=(beta1, beta2)`; the other options pass as they are."""
    rest = {k: v for k, v in options.items() if k not in ("beta1", "beta2")}
    return {"betas": (options["beta1"], options["beta2"]), **rest}


def _same_names(options: dict[str, Any]) -> dict[str, Any]:
    return dict(options)


@dataclass(frozen=True)
class OptimizerSpec:
    """How to build one optimizer: its class, its `Options` dataclass, how they become its
    keyword arguments (default: by the same names), and the schemes under which its momentum
    may be negative (none: momentum >= 0 only)."""

    cls: type[torch.optim.Optimizer]
    Options: type = NoOptions
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
    if not dataclasses.is_dataclass(spec.Options):
        raise TypeError(f"optimizer {name!r}: its Options must be a dataclass")
    declared = declared_fields(_options_classes())
    for option, declaration in option_types(spec.Options).items():
        if declaration[0] not in (bool, int, float, str) or not declaration[1].metadata.get("help"):
            raise TypeError(f"optimizer {name!r}: option {option!r} needs a bool, int, float or "
                            f"str type and a help line")
        if option in GENERAL_FIELDS:
            raise ValueError(f"optimizer {name!r}: option {option!r} is already a field of "
                             f"the optim section")
        if option in declared and not same_declaration(declared[option], declaration):
            raise ValueError(f"optimizer {name!r}: option {option!r} is declared differently "
                             f"by another optimizer; share one declaration")


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer", "optim.name", check=_check_spec)


def _options_classes() -> dict[str, type]:
    return {n: spec.Options for n, spec in OPTIMIZERS.items()}


def declared_options() -> dict[str, Any]:
    """Every option some registered optimizer takes: the `optim` section's extra keys, each
    with its default."""
    return {k: f.default for k, (_, f) in declared_fields(_options_classes()).items()}


def names_for(extragradient: bool) -> list[str]:
    """The optimizers with `extrapolate()` (True) or the plain ones (False)."""
    return [n for n, spec in OPTIMIZERS.items() if spec.extragradient == extragradient]


def is_extragradient(name: str, field: str = "optim.name") -> bool:
    """Whether optimizer `name` has `extrapolate()` (needs the extragradient scheme)."""
    return OPTIMIZERS.get(name, field).extragradient


def parse_options(name: str, given: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Optimizer `name`'s `Options` from the `optim` section's keys `given`, and the options
    only other optimizers take given at a value other than their default (`ignored`)."""
    return parse_entry_options("optim", _options_classes(), name, given, GENERAL_FIELDS)


def check_optimizer(name: str, options: dict[str, Any], scheme: str | None = None,
                    field: str = "optim.name") -> dict[str, Any]:
    """The options optimizer `name` takes, at their values; one it ignores must be at its
    default, and negative momentum must fit the optimizer and (when given) the scheme."""
    spec = OPTIMIZERS.get(name, field)
    declared = declared_options()
    own = [f.name for f in dataclasses.fields(spec.Options)]
    for option, value in options.items():
        if option not in own and value != declared[option]:
            takes = ", ".join(["lr_g", "lr_d", *own])
            raise ConfigError(f"optim.{option}: value {value!r} has no effect with {field} "
                              f"{name!r}; leave it at {declared[option]!r} ({name} "
                              f"takes: {takes})")
    momentum = options.get("momentum", 0.0)
    allowed = spec.negative_momentum_schemes
    if momentum < 0 and (not allowed or (scheme is not None and scheme not in allowed)):
        takers = sorted(f"{n} under scheme.name {'/'.join(s.negative_momentum_schemes)}"
                        for n, s in OPTIMIZERS.items() if s.negative_momentum_schemes)
        where = f"{field} {name!r}" + (f" and scheme.name {scheme!r}" if scheme else "")
        raise ConfigError(f"optim.momentum: negative value {momentum!r} does not fit {where}; "
                          f"negative momentum (Gidel et al. 2019) fits only: {', '.join(takers)}")
    return {option: options.get(option, declared[option]) for option in own}


def build_optimizer(name: str, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
                    lr: float, options: Any = None,
                    field: str = "optim.name") -> torch.optim.Optimizer:
    """Build optimizer `name` over `params` with the options given (its `Options`, or `optim`
    keys as a mapping; the rest at their defaults); `field` names the config field in errors."""
    spec = OPTIMIZERS.get(name, field)
    given = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else options
    chosen, ignored = parse_options(name, given or {})
    taken = check_optimizer(name, {**dataclasses.asdict(chosen), **ignored}, field=field)
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
    options: Any = field(default=None, metadata={
        "help": "the optimizer's own hyperparameters, written beside the fields above "
                "(`optim.beta1`, `optim.momentum`, ...): its `Options` dataclass, declared by "
                "its `OptimizerSpec`", "entry_options": True})
    ignored: dict = field(default_factory=dict, init=False, repr=False)

    # Every run key (and the params) has carried the first release's four options (beta1, beta2,
    # momentum, moments_on_extrapolation) since they were fixed fields of the section: they stay
    # written, at their defaults when the optimizer takes no such option, so existing keys still
    # find their runs. An option declared since enters only the keys of the optimizers taking it.
    WRITTEN_SINCE_FIRST_RELEASE: ClassVar[dict[str, Any]] = {
        **dataclasses.asdict(ExtraAdamOptions()), **dataclasses.asdict(ExtraSGDOptions())}

    def __post_init__(self) -> None:
        # A mapping of `optim` keys (from `from_dict`), the options of another optimizer (after
        # `dataclasses.replace(name=...)`) or nothing: read as written, into this optimizer's.
        given = self.options if isinstance(self.options, dict) else (
            {} if self.options is None else {**dataclasses.asdict(self.options), **self.ignored})
        self.options, self.ignored = parse_options(self.name, given)

    def written_options(self) -> dict[str, Any]:
        """The options as the section is written out (run key, params, `exclude` rules)."""
        written = {**self.WRITTEN_SINCE_FIRST_RELEASE, **dataclasses.asdict(self.options),
                   **self.ignored}
        return dict(sorted(written.items()))


GENERAL_FIELDS = [f.name for f in dataclasses.fields(OptimConfig)
                  if f.init and f.name != "options"]


def validate_optim(cfg: OptimConfig, scheme: str) -> None:
    """The checks across the section's fields: options against the optimizer and the scheme,
    lookahead's alpha only with lookahead on, each average listed once."""
    check_optimizer(cfg.name, cfg.written_options(), scheme=scheme)
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
    return non_default_labels(cfg.options, flags)


for _name, _spec in {
    "sgd": OptimizerSpec(SignedMomentumSGD, MomentumOptions,
                         negative_momentum_schemes=("alternating",)),
    "adam": OptimizerSpec(torch.optim.Adam, AdamOptions, betas),
    "optimistic_sgd": OptimizerSpec(OptimisticSGD),
    "optimistic_adam": OptimizerSpec(OptimisticAdam, AdamOptions, betas),
    "extra_sgd": OptimizerSpec(ExtraSGD, ExtraSGDOptions),
    "past_extra_sgd": OptimizerSpec(PastExtraSGD, ExtraSGDOptions),
    "extra_adam": OptimizerSpec(ExtraAdam, ExtraAdamOptions, betas),
    "past_extra_adam": OptimizerSpec(PastExtraAdam, ExtraAdamOptions, betas),
}.items():
    OPTIMIZERS.register(_name, _spec)
