"""The methods a game is played with: an optimizer of the registry, an update scheme, options,
lookahead-minmax and an iterate average, by name. Adding one is one `METHODS.register` line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmark.registry import Registry


@dataclass(frozen=True)
class Method:
    """How both players move: `optimizer` (a name of `benchmark.optimizers.OPTIMIZERS`) under
    `scheme` (of `benchmark.schemes.SCHEMES`), its `options`, lookahead-minmax every
    `lookahead_k` steps (0: off), and whether the uniform average of the iterates is scored
    instead of the last iterate. `expected` is what the literature reports on the deterministic
    bilinear game, `source` where; `expected_stochastic` on the stochastic one (HSIEH, LI)."""

    label: str
    optimizer: str
    scheme: str
    expected: str
    source: str
    expected_stochastic: str = ("no convergence of the last iterate at a constant step (a "
                                "noise ball)")
    options: dict[str, Any] = field(default_factory=dict)
    lookahead_k: int = 0
    lookahead_alpha: float = 0.5
    average: bool = False


def _check(name: str, method: Method) -> None:
    if not isinstance(method, Method):
        raise TypeError(f"method {name!r} must be a Method, got {type(method).__name__}")


METHODS: Registry[Method] = Registry("method", "--methods", check=_check)

GIDEL18 = "Gidel et al. 2018 (variational inequality perspective), Section 3"
GIDEL19 = "Gidel et al. 2019 (negative momentum), Theorem 3 and Figure 3"
DASKALAKIS = "Daskalakis et al. 2018 (optimistic mirror descent), Section 3"
CHAVDAROVA = "Chavdarova et al. 2021 (lookahead-minmax), Section 4 and Figure 3"
HSIEH = "Hsieh et al. 2020 (stochastic extragradient on bilinear games)"
LI = "Li et al. 2022 (stochastic extragradient with restarted iteration averaging)"
# The convergence results on this game are for the SGD forms; the Adam forms were introduced for
# GANs and their authors publish no bilinear result to check against.
UNPUBLISHED = "unpublished for the Adam form (the SGD form converges)"
CONVERGES_STOCHASTIC = "converges (Chavdarova et al. 2021: lookahead handles the variance)"

for _name, _method in {
    "sim_gda": Method("simultaneous GDA", "sgd", "simultaneous", "diverges", GIDEL18),
    "alt_gda": Method("alternating GDA", "sgd", "alternating", "cycles (bounded, no "
                      "convergence)", GIDEL19),
    "alt_gda_negmom": Method("alternating GDA, momentum -0.5", "sgd", "alternating",
                             "converges", GIDEL19, options={"momentum": -0.5}),
    "alt_gda_avg": Method("alternating GDA, uniform average", "sgd", "alternating",
                          "converges (the average of a cycle is its centre)", GIDEL18,
                          average=True, expected_stochastic="converges (iterate averaging; LI)"),
    "sim_adam": Method("simultaneous Adam", "adam", "simultaneous", "does not converge",
                       DASKALAKIS),
    "alt_adam": Method("alternating Adam", "adam", "alternating", "does not converge",
                       DASKALAKIS),
    "optimistic_sgd": Method("optimistic GD", "optimistic_sgd", "simultaneous", "converges",
                             DASKALAKIS),
    "optimistic_adam": Method("optimistic Adam", "optimistic_adam", "simultaneous",
                              UNPUBLISHED, DASKALAKIS),
    "extra_sgd": Method("extragradient", "extra_sgd", "extragradient", "converges", GIDEL18),
    "past_extra_sgd": Method("extrapolation from the past", "past_extra_sgd", "extragradient",
                             "converges", GIDEL18),
    "extra_adam": Method("Extra-Adam", "extra_adam", "extragradient", UNPUBLISHED, GIDEL18),
    "past_extra_adam": Method("PastExtra-Adam", "past_extra_adam", "extragradient",
                              UNPUBLISHED, GIDEL18),
    "lookahead_sim_gda": Method("lookahead-minmax over simultaneous GDA", "sgd", "simultaneous",
                                "converges", CHAVDAROVA, lookahead_k=5,
                                expected_stochastic=CONVERGES_STOCHASTIC),
    "lookahead_alt_gda": Method("lookahead-minmax over alternating GDA", "sgd", "alternating",
                                "converges", CHAVDAROVA, lookahead_k=5,
                                expected_stochastic=CONVERGES_STOCHASTIC),
    "lookahead_extra_sgd": Method("lookahead-minmax over extragradient", "extra_sgd",
                                  "extragradient", "converges", CHAVDAROVA, lookahead_k=5,
                                expected_stochastic=CONVERGES_STOCHASTIC),
    "lookahead_adam": Method("lookahead-minmax over alternating Adam", "adam", "alternating",
                             "converges", CHAVDAROVA, lookahead_k=5,
                                expected_stochastic=CONVERGES_STOCHASTIC),
}.items():
    METHODS.register(_name, _method)
