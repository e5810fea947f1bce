"""The benchmark's optimizer registry: names, the extragradient/plain split, declared options,
the `optim` section built from them, and clear errors."""

import subprocess
import sys
from dataclasses import dataclass, field

import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.optimizers import (
    OPTIMIZERS,
    AdamOptions,
    OptimConfig,
    OptimizerSpec,
    build_optimizer,
    check_optimizer,
    is_extragradient,
    names_for,
)
from benchmark.validation import from_dict
from optim import ExtraAdam, OptimisticAdam, SignedMomentumSGD

KNOWN = ("adam, extra_adam, extra_sgd, optimistic_adam, optimistic_sgd, past_extra_adam, "
         "past_extra_sgd, sgd")


def params() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


def test_unknown_name_lists_the_known_ones() -> None:
    message = f"^optim.name: unknown value 'adma'; choose from: {KNOWN}$"
    with pytest.raises(ConfigError, match=message):
        build_optimizer("adma", params(), lr=1e-3)
    with pytest.raises(ConfigError, match="choose from: adam, extra_adam"):
        is_extragradient("adma")
    with pytest.raises(ConfigError, match="^optim.optimizer_d: unknown value"):
        build_optimizer("adma", params(), lr=1e-3, field="optim.optimizer_d")


def test_plain_and_extragradient_names_split_the_registry() -> None:
    assert names_for(extragradient=False) == ["adam", "optimistic_adam", "optimistic_sgd", "sgd"]
    assert names_for(extragradient=True) == ["extra_adam", "extra_sgd", "past_extra_adam",
                                             "past_extra_sgd"]
    for name in OPTIMIZERS:
        opt = build_optimizer(name, params(), lr=1e-3)
        assert isinstance(opt, torch.optim.Optimizer)
        assert is_extragradient(name) == hasattr(opt, "extrapolate")


def test_adam_defaults_to_the_paper_betas_and_options_reach_the_optimizer() -> None:
    assert build_optimizer("adam", params(), lr=2e-4).defaults["betas"] == (0.5, 0.999)
    opt = build_optimizer("extra_adam", params(), lr=2e-4,
                          options={"beta1": 0.9, "beta2": 0.99, "moments_on_extrapolation": False})
    assert isinstance(opt, ExtraAdam)
    assert opt.defaults["betas"] == (0.9, 0.99)
    assert opt.defaults["moments_on_extrapolation"] is False
    assert opt.param_groups[0]["lr"] == 2e-4
    assert build_optimizer("sgd", params(), 0.1, {"momentum": 0.9}).defaults["momentum"] == 0.9


def test_an_option_the_optimizer_ignores_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^optim.momentum: value 0.9 has no effect with "
                                          r"optim.name 'adam'; leave it at 0.0 \(adam takes: "
                                          r"lr_g, lr_d, beta1, beta2\)$"):
        build_optimizer("adam", params(), lr=1e-3, options={"momentum": 0.9})
    with pytest.raises(ConfigError, match="moments_on_extrapolation: value False"):
        build_optimizer("sgd", params(), 1e-3, {"moments_on_extrapolation": False})
    build_optimizer("sgd", params(), lr=1e-3, options={"beta1": 0.5})  # the default
    with pytest.raises(ConfigError, match=r"^optim.beta1: value 0.9 has no effect with "):
        check_optimizer("extra_sgd", {"beta1": 0.9})
    assert check_optimizer("extra_sgd", {"momentum": 0.5}) == {
        "momentum": 0.5, "moments_on_extrapolation": True}
    with pytest.raises(ConfigError, match=r"^optim.rho: unknown key; valid keys here: name, "
                                          r"lr_g, lr_d, .*beta1, beta2, moments_on_extrapolation, "
                                          r"momentum$"):
        build_optimizer("adam", params(), lr=1e-3, options={"rho": 0.9})


def test_negative_momentum_only_for_sgd_under_the_alternating_scheme() -> None:
    opt = build_optimizer("sgd", params(), lr=0.1, options={"momentum": -0.5})
    assert isinstance(opt, SignedMomentumSGD) and opt.param_groups[0]["momentum"] == -0.5
    assert check_optimizer("sgd", {"momentum": -0.5}, scheme="alternating") == {"momentum": -0.5}
    fits = r"negative momentum \(Gidel et al. 2019\) fits only: sgd under scheme.name alternating$"
    with pytest.raises(ConfigError, match=r"^optim.momentum: negative value -0.5 does not fit "
                                          r"optim.name 'sgd' and scheme.name 'simultaneous'; "
                                          + fits):
        check_optimizer("sgd", {"momentum": -0.5}, scheme="simultaneous")
    with pytest.raises(ConfigError, match=r"^optim.momentum: negative value -0.3 does not fit "
                                          r"optim.name 'extra_sgd'; " + fits):
        build_optimizer("extra_sgd", params(), lr=0.1, options={"momentum": -0.3})
    with pytest.raises(ConfigError, match=r"^optim.momentum: value -0.5 has no effect with "
                                          r"optim.name 'optimistic_adam'"):
        check_optimizer("optimistic_adam", {"momentum": -0.5}, scheme="alternating")


def test_optimistic_optimizers_are_plain_and_take_the_paper_betas() -> None:
    opt = build_optimizer("optimistic_adam", params(), lr=2e-4)
    assert isinstance(opt, OptimisticAdam) and opt.defaults["betas"] == (0.5, 0.999)
    assert not is_extragradient("optimistic_adam") and not is_extragradient("optimistic_sgd")
    with pytest.raises(ConfigError, match=r"^optim.beta1: value 0.9 has no effect with "
                                          r"optim.name 'optimistic_sgd'"):
        build_optimizer("optimistic_sgd", params(), lr=0.1, options={"beta1": 0.9})


@dataclass
class RMSpropOptions:
    alpha: float = field(default=0.99, metadata={"help": "smoothing", "min": 0.0})


@dataclass
class OtherBeta1:
    beta1: float = field(default=0.9, metadata={"help": "other"})


@dataclass
class LrG:
    lr_g: float = field(default=0.9, metadata={"help": "other"})


@dataclass
class Untyped:
    alpha: list = field(default_factory=list, metadata={"help": "no scalar type"})


def test_registering_checks_the_spec_and_its_options() -> None:
    spec = OptimizerSpec(torch.optim.RMSprop, RMSpropOptions)
    with pytest.raises(ValueError, match="already registered"):
        OPTIMIZERS.register("adam", spec)
    with pytest.raises(ValueError, match="optimizer name"):
        OPTIMIZERS.register("rms prop", spec)
    with pytest.raises(TypeError, match="needs an OptimizerSpec"):
        OPTIMIZERS.register("rmsprop", OptimizerSpec(dict))
    with pytest.raises(TypeError, match="needs an OptimizerSpec"):
        OPTIMIZERS.register("rmsprop", OptimizerSpec(lambda params, lr: None))  # type: ignore
    with pytest.raises(TypeError, match="Options must be a dataclass"):
        OPTIMIZERS.register("rmsprop", OptimizerSpec(torch.optim.RMSprop, dict))
    with pytest.raises(ValueError, match="'beta1' is declared differently"):
        OPTIMIZERS.register("rmsprop", OptimizerSpec(torch.optim.RMSprop, OtherBeta1))
    with pytest.raises(ValueError, match="'lr_g' is already a field"):
        OPTIMIZERS.register("rmsprop", OptimizerSpec(torch.optim.RMSprop, LrG))
    with pytest.raises(TypeError, match="needs a bool, int, float or str type"):
        OPTIMIZERS.register("rmsprop", OptimizerSpec(torch.optim.RMSprop, Untyped))
    OPTIMIZERS.register("rmsprop", spec)
    try:
        assert "rmsprop" in names_for(extragradient=False) and not is_extragradient("rmsprop")
        opt = build_optimizer("rmsprop", params(), lr=1e-3, options={"alpha": 0.5})
        assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["alpha"] == 0.5
    finally:
        OPTIMIZERS.unregister("rmsprop")
    assert AdamOptions().beta1 == 0.5


def test_the_optim_section_takes_the_chosen_optimizers_options_beside_its_fields() -> None:
    cfg = from_dict(OptimConfig, {"name": "sgd", "momentum": -0.5, "lr_g": 1e-3}, "optim")
    assert cfg.options.momentum == -0.5 and cfg.lr_g == 1e-3
    assert cfg.written_options() == {"beta1": 0.5, "beta2": 0.999, "momentum": -0.5,
                                     "moments_on_extrapolation": True}  # defaults, keyed
    assert type(from_dict(OptimConfig, {"beta1": 0}, "optim").options.beta1) is float
    assert OptimConfig() == from_dict(OptimConfig, {}, "optim")  # one canonical form
    with pytest.raises(ConfigError, match=r"^optim.beta1: 1.5 is above the maximum"):
        from_dict(OptimConfig, {"beta1": 1.5}, "optim")
    with pytest.raises(ConfigError, match=r"^optim.moments_on_extrapolation: expected true or "):
        from_dict(OptimConfig, {"moments_on_extrapolation": 1}, "optim")
    with pytest.raises(AttributeError):
        _ = cfg.options.beta1  # sgd takes no beta1


def test_optim_imports_nothing_from_the_benchmark() -> None:
    code = ("import sys, optim, optim.averaging, optim.extragradient, optim.lookahead, "
            "optim.momentum, optim.optimistic; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'benchmark'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
