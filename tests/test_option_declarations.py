"""Optimizers and schemes declare their options as dataclasses (as stabilizers do): the run keys,
run names and descriptions they gave before stay the same, and an option the chosen scheme does
not take is refused in one line instead of being ignored."""

import pytest

from benchmark.errors import ConfigError
from benchmark.run_config import RunConfig, config_key, resolved, run_key, run_name, validate_run
from benchmark.validation import from_dict

# Computed before options were declared as dataclasses (commit 3d42b94): every option off its
# default, each optimizer family and scheme.
PINNED = [
    ({"scheme": {"d_steps": 3}}, "3e828de94749", "81540dbd7950",
     "digits-adam-alternating-d3-none-lr0.0002_0.0001-s0"),
    ({"scheme": {"name": "extragradient", "resample": False},
      "optim": {"name": "extra_adam", "moments_on_extrapolation": False, "beta1": 0.9}},
     "81fc28259fb5", "3ad264673b30",
     "digits-extra_adam-extragradient-noresample-nomoments-beta10.9-none-lr0.0002_0.0001-s0"),
    ({"scheme": {"name": "extragradient"}, "optim": {"name": "past_extra_sgd", "momentum": 0.5}},
     "74186ee17d3a", "92a651f73cb2",
     "digits-past_extra_sgd-extragradient-mom0.5-none-lr0.0002_0.0001-s0"),
    ({"optim": {"name": "sgd", "momentum": -0.5, "lookahead_k": 5, "averaging": ["ema"]}},
     "42073f675f8a", "51e715daee42",
     "digits-sgd-alternating-avg_ema-la5_0.5-mom-0.5-none-lr0.0002_0.0001-s0"),
    ({"optim": {"name": "adam", "beta2": 0.99, "momentum": 0.0},
      "scheme": {"name": "simultaneous", "d_steps": 1}}, "a119ac096406", "a29855d5682e",
     "digits-adam-simultaneous-beta20.99-none-lr0.0002_0.0001-s0"),
    ({"optim": {"name": "optimistic_sgd"}, "scheme": {"name": "simultaneous"}},
     "f899999a1ceb", "f7d6afb36ad9", "digits-optimistic_sgd-simultaneous-none-lr0.0002_0.0001-s0"),
]


def config(raw: dict) -> RunConfig:
    cfg = resolved(from_dict(RunConfig, {"data": {"dataset": "digits"}, **raw}))
    validate_run(cfg)
    return cfg


@pytest.mark.parametrize(("raw", "key", "config_key_", "name"), PINNED)
def test_run_keys_and_names_are_those_pinned(raw, key, config_key_, name):
    cfg = config(raw)
    assert (run_key(cfg), config_key(cfg), run_name(cfg)) == (key, config_key_, name)


@pytest.mark.parametrize(("raw", "message"), [
    ({"scheme": {"name": "simultaneous", "d_steps": 5}},
     r"^scheme\.d_steps: value 5 has no effect with scheme\.name 'simultaneous'; leave it at 1 "
     r"\(taken by scheme\.name: alternating\)$"),
    ({"scheme": {"name": "extragradient", "d_steps": 2}, "optim": {"name": "extra_sgd"}},
     r"^scheme\.d_steps: value 2 has no effect with scheme\.name 'extragradient'"),
    ({"scheme": {"name": "alternating", "resample": False}},
     r"^scheme\.resample: value False has no effect with scheme\.name 'alternating'; leave it "
     r"at True \(taken by scheme\.name: extragradient\)$"),
    ({"scheme": {"bogus": 1}}, r"^scheme\.bogus: unknown key; valid keys here: name, d_steps, "
                               r"resample$"),
    ({"scheme": {"d_steps": 0}}, r"^scheme\.d_steps: 0 is below the minimum 1$"),
])
def test_a_scheme_option_that_does_not_apply_is_refused_in_one_line(raw, message):
    with pytest.raises(ConfigError, match=message):
        config(raw)


def test_an_option_of_another_scheme_at_its_default_is_accepted():
    assert run_key(config({"scheme": {"name": "simultaneous", "d_steps": 1,
                                      "resample": True}})) == run_key(
        config({"scheme": {"name": "simultaneous"}}))
