"""The optimizer registry: names, the extragradient/plain split, options, and clear errors."""

import pytest
import torch

from benchmark.errors import ConfigError
from optim import (
    EXTRAGRADIENT_OPTIMIZERS,
    OPTIMIZERS,
    PLAIN_OPTIMIZERS,
    ExtraAdam,
    OptimisticAdam,
    OptimizerSpec,
    SignedMomentumSGD,
    build_optimizer,
    check_optimizer_options,
    is_extragradient,
    register_optimizer,
)

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


def test_plain_and_extragradient_sets_split_the_registry() -> None:
    assert {"sgd", "adam", "optimistic_sgd", "optimistic_adam"} == PLAIN_OPTIMIZERS
    assert {"extra_sgd", "past_extra_sgd", "extra_adam", "past_extra_adam"} == (
        EXTRAGRADIENT_OPTIMIZERS
    )
    assert set(OPTIMIZERS) == PLAIN_OPTIMIZERS | EXTRAGRADIENT_OPTIMIZERS
    for name in OPTIMIZERS:
        opt = build_optimizer(name, params(), lr=1e-3)
        assert isinstance(opt, torch.optim.Optimizer)
        assert is_extragradient(name) == hasattr(opt, "extrapolate")


def test_adam_defaults_to_the_paper_betas_and_options_reach_the_optimizer() -> None:
    assert build_optimizer("adam", params(), lr=2e-4).defaults["betas"] == (0.5, 0.999)
    opt = build_optimizer("extra_adam", params(), lr=2e-4, betas=(0.9, 0.99),
                          moments_on_extrapolation=False)
    assert isinstance(opt, ExtraAdam)
    assert opt.defaults["betas"] == (0.9, 0.99)
    assert opt.defaults["moments_on_extrapolation"] is False
    assert opt.param_groups[0]["lr"] == 2e-4
    assert build_optimizer("sgd", params(), lr=0.1, momentum=0.9).defaults["momentum"] == 0.9


def test_an_option_the_optimizer_ignores_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^momentum: value 0.9 has no effect with "
                                          r"optim.name 'adam'; leave it at 0.0"):
        build_optimizer("adam", params(), lr=1e-3, momentum=0.9)
    with pytest.raises(ConfigError, match="moments_on_extrapolation: value False"):
        build_optimizer("sgd", params(), lr=1e-3, moments_on_extrapolation=False)
    build_optimizer("sgd", params(), lr=1e-3, betas=[0.5, 0.999])  # the default, as a list
    with pytest.raises(ConfigError, match=r"^betas: value \(0.9, 0.999\) has no effect with "):
        check_optimizer_options("extra_sgd", betas=(0.9, 0.999))
    assert check_optimizer_options("extra_sgd", momentum=0.5) == {
        "momentum": 0.5, "moments_on_extrapolation": True}


def test_negative_momentum_only_for_sgd_under_the_alternating_scheme() -> None:
    opt = build_optimizer("sgd", params(), lr=0.1, momentum=-0.5)
    assert isinstance(opt, SignedMomentumSGD) and opt.param_groups[0]["momentum"] == -0.5
    assert check_optimizer_options("sgd", momentum=-0.5, scheme="alternating") == {
        "momentum": -0.5}
    fits = r"negative momentum \(Gidel et al. 2019\) fits only: sgd under scheme.name alternating$"
    with pytest.raises(ConfigError, match=r"^optim.momentum: negative value -0.5 does not fit "
                                          r"optim.name 'sgd' and scheme.name 'simultaneous'; "
                                          + fits):
        check_optimizer_options("sgd", momentum=-0.5, scheme="simultaneous")
    with pytest.raises(ConfigError, match=r"^optim.momentum: negative value -0.3 does not fit "
                                          r"optim.name 'extra_sgd'; " + fits):
        build_optimizer("extra_sgd", params(), lr=0.1, momentum=-0.3)
    with pytest.raises(ConfigError, match=r"^momentum: value -0.5 has no effect with "
                                          r"optim.name 'optimistic_adam'"):
        check_optimizer_options("optimistic_adam", momentum=-0.5, scheme="alternating")


def test_optimistic_optimizers_are_plain_and_take_the_paper_betas() -> None:
    opt = build_optimizer("optimistic_adam", params(), lr=2e-4)
    assert isinstance(opt, OptimisticAdam) and opt.defaults["betas"] == (0.5, 0.999)
    assert not is_extragradient("optimistic_adam") and not is_extragradient("optimistic_sgd")
    with pytest.raises(ConfigError, match=r"^betas: value \(0.9, 0.999\) has no effect with "
                                          r"optim.name 'optimistic_sgd'"):
        build_optimizer("optimistic_sgd", params(), lr=0.1, betas=(0.9, 0.999))


def test_register_optimizer_validates_and_updates_the_sets() -> None:
    spec = OptimizerSpec(torch.optim.RMSprop, ("momentum",))
    with pytest.raises(ValueError, match="already registered"):
        register_optimizer("adam", spec)
    with pytest.raises(ValueError, match="non-empty word"):
        register_optimizer("rms prop", spec)
    with pytest.raises(ValueError, match="needs an OptimizerSpec"):
        register_optimizer("rmsprop", OptimizerSpec(dict, ()))
    with pytest.raises(ValueError, match="needs an OptimizerSpec"):
        register_optimizer("rmsprop", OptimizerSpec(lambda params, lr: None, ()))
    with pytest.raises(ValueError, match="unknown options"):
        register_optimizer("rmsprop", OptimizerSpec(torch.optim.RMSprop, ("alpha",)))
    register_optimizer("rmsprop", spec)
    try:
        assert "rmsprop" in PLAIN_OPTIMIZERS and not is_extragradient("rmsprop")
        assert isinstance(build_optimizer("rmsprop", params(), lr=1e-3), torch.optim.RMSprop)
    finally:
        del OPTIMIZERS["rmsprop"]
        PLAIN_OPTIMIZERS.discard("rmsprop")
