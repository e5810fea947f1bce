"""An update scheme with an option, in one file: `generator_first`, `g_steps` encoder+decoder
updates and then one discriminator update, each with its own forward pass (alternating's order,
reversed). Importing the module registers it (`--plugin lab_scheme`): `scheme.name:
generator_first` and `scheme.g_steps: 3` are then valid, checked, in the run key, the params and
the run name (`...-generator_first-g3-...`); another scheme refuses `g_steps` in one line."""

from dataclasses import dataclass, field

from benchmark.schemes import SCHEMES, Players, UpdateScheme, set_gradients


@dataclass
class GeneratorFirstOptions:
    g_steps: int = field(default=1, metadata={
        "help": "encoder+decoder updates per discriminator update", "min": 1, "max": 100,
        "label": lambda v: f"g{v}", "describe": lambda v: f"{v} G steps"})


@SCHEMES.register
class GeneratorFirst(UpdateScheme):
    name = "generator_first"
    Options = GeneratorFirstOptions

    def step(self, players: Players):
        game = players.game
        for _ in range(self.options.g_steps):
            losses = game.losses(game.draw())
            losses.grad_norm_g = set_gradients(losses.loss_g, game.ali.generator_parameters(),
                                               retain_graph=False)
            players.opt_g.step()
        if game.discriminator_plays:  # it plays against the generator it just moved
            played = game.losses(game.draw(), generator_terms=False)
            losses.grad_norm_d = set_gradients(played.loss_d,
                                               game.ali.discriminator_parameters(),
                                               retain_graph=False)
            players.opt_d.step()
        return losses

    def evaluations_per_step(self, extrapolation_needs_gradient: bool,
                             discriminator_plays: bool = True) -> int:
        return self.options.g_steps + (1 if discriminator_plays else 0)
