"""The optimizers by name: torch's SGD (negative momentum allowed) and Adam, the optimistic
methods and the extragradient family.

The training code looks an optimizer up here and checks it against the update scheme with
`EXTRAGRADIENT_OPTIMIZERS` / `PLAIN_OPTIMIZERS`: the `extragradient` scheme needs an optimizer
with `extrapolate()`, `alternating` and `simultaneous` need a plain one. Negative momentum is
checked against the scheme too: an optimizer takes it only under the schemes its spec lists.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from benchmark.errors import ConfigError
from optim.extragradient import (
    ExtraAdam,
    ExtragradientOptimizer,
    ExtraSGD,
    PastExtraAdam,
    PastExtraSGD,
)
from optim.momentum import SignedMomentumSGD
from optim.optimistic import OptimisticAdam, OptimisticSGD

# The options `build_optimizer` passes on, with their defaults. An option an optimizer does not
# take must stay at its default, so a grid never sweeps a value that silently changes nothing.
OPTION_DEFAULTS: dict[str, Any] = {
    "betas": (0.5, 0.999),  # the paper's Adam betas ("beta2 = 1e-3" is 1 - 0.999)
    "momentum": 0.0,
    "moments_on_extrapolation": True,
}


@dataclass(frozen=True)
class OptimizerSpec:
    """How to build one optimizer: its class, which options of OPTION_DEFAULTS it takes, and
    the schemes under which its momentum may be negative (none: momentum >= 0 only)."""

    cls: type[torch.optim.Optimizer]
    options: tuple[str, ...]
    negative_momentum_schemes: tuple[str, ...] = ()

    @property
    def extragradient(self) -> bool:
        """Whether the optimizer needs the extragradient update scheme."""
        return issubclass(self.cls, ExtragradientOptimizer)


OPTIMIZERS: dict[str, OptimizerSpec] = {}
EXTRAGRADIENT_OPTIMIZERS: set[str] = set()
PLAIN_OPTIMIZERS: set[str] = set()


def register_optimizer(name: str, spec: OptimizerSpec) -> None:
    """Add an optimizer under `name`; the name sets above follow the registry."""
    if not isinstance(name, str) or not name or any(c.isspace() or c in "/\\" for c in name):
        raise ValueError(f"Optimizer name must be a non-empty word, got {name!r}")
    if name in OPTIMIZERS:
        raise ValueError(f"Optimizer {name!r} is already registered")
    if not isinstance(spec, OptimizerSpec) or not (
        isinstance(spec.cls, type) and issubclass(spec.cls, torch.optim.Optimizer)
    ):
        raise ValueError(f"Optimizer {name!r} needs an OptimizerSpec of a torch Optimizer")
    unknown = sorted(set(spec.options) - set(OPTION_DEFAULTS))
    if unknown:
        raise ValueError(f"Optimizer {name!r} has unknown options {unknown}")
    OPTIMIZERS[name] = spec
    (EXTRAGRADIENT_OPTIMIZERS if spec.extragradient else PLAIN_OPTIMIZERS).add(name)


def _spec(name: str, field: str) -> OptimizerSpec:
    if name not in OPTIMIZERS:
        raise ConfigError(
            f"{field}: unknown value {name!r}; choose from: {', '.join(sorted(OPTIMIZERS))}"
        )
    return OPTIMIZERS[name]


def is_extragradient(name: str, field: str = "optim.name") -> bool:
    """Whether optimizer `name` has `extrapolate()` (needs the extragradient scheme)."""
    return _spec(name, field).extragradient


def build_optimizer(
    name: str,
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
    lr: float,
    *,
    betas: tuple[float, float] = OPTION_DEFAULTS["betas"],
    momentum: float = OPTION_DEFAULTS["momentum"],
    moments_on_extrapolation: bool = OPTION_DEFAULTS["moments_on_extrapolation"],
    field: str = "optim.name",
) -> torch.optim.Optimizer:
    """Build optimizer `name` over `params`; `field` names the config field in errors."""
    options = check_optimizer_options(
        name,
        betas=betas,
        momentum=momentum,
        moments_on_extrapolation=moments_on_extrapolation,
        field=field,
    )
    return OPTIMIZERS[name].cls(params, lr=lr, **options)


def check_optimizer_options(
    name: str,
    *,
    betas: tuple[float, float] = OPTION_DEFAULTS["betas"],
    momentum: float = OPTION_DEFAULTS["momentum"],
    moments_on_extrapolation: bool = OPTION_DEFAULTS["moments_on_extrapolation"],
    field: str = "optim.name",
    scheme: str | None = None,
) -> dict[str, Any]:
    """The options optimizer `name` takes; one it ignores must be at its default (ConfigError).

    Negative momentum must be allowed for the optimizer and, when `scheme` is given, for that
    scheme. Config validation calls this with the scheme before any run starts;
    `build_optimizer` calls it without.
    """
    spec = _spec(name, field)
    given = {
        "betas": tuple(betas),
        "momentum": momentum,
        "moments_on_extrapolation": moments_on_extrapolation,
    }
    for option, value in given.items():
        if option not in spec.options and value != OPTION_DEFAULTS[option]:
            raise ConfigError(
                f"{option}: value {value!r} has no effect with {field} {name!r}; leave it at "
                f"{OPTION_DEFAULTS[option]!r} (that optimizer takes: lr, {', '.join(spec.options)})"
            )
    allowed = spec.negative_momentum_schemes
    if momentum < 0 and (not allowed or (scheme is not None and scheme not in allowed)):
        takers = sorted(f"{n} under scheme.name {'/'.join(s.negative_momentum_schemes)}"
                        for n, s in OPTIMIZERS.items() if s.negative_momentum_schemes)
        where = f"{field} {name!r}" + (f" and scheme.name {scheme!r}" if scheme else "")
        raise ConfigError(
            f"optim.momentum: negative value {momentum!r} does not fit {where}; negative "
            f"momentum (Gidel et al. 2019) fits only: {', '.join(takers)}"
        )
    return {option: given[option] for option in spec.options}


register_optimizer(
    "sgd", OptimizerSpec(SignedMomentumSGD, ("momentum",), negative_momentum_schemes=("alternating",))
)
register_optimizer("adam", OptimizerSpec(torch.optim.Adam, ("betas",)))
register_optimizer("optimistic_sgd", OptimizerSpec(OptimisticSGD, ()))
register_optimizer("optimistic_adam", OptimizerSpec(OptimisticAdam, ("betas",)))
register_optimizer("extra_sgd", OptimizerSpec(ExtraSGD, ("momentum", "moments_on_extrapolation")))
register_optimizer(
    "past_extra_sgd", OptimizerSpec(PastExtraSGD, ("momentum", "moments_on_extrapolation"))
)
register_optimizer("extra_adam", OptimizerSpec(ExtraAdam, ("betas", "moments_on_extrapolation")))
register_optimizer(
    "past_extra_adam", OptimizerSpec(PastExtraAdam, ("betas", "moments_on_extrapolation"))
)
