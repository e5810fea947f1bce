"""A trial's runs, wherever an executor puts them: their tags, and each evaluation reported to
the trial's Optuna study, which may stop the run (pruned).

`TrialHooks` is plain data (it is pickled to process, Ray and Slurm workers); each worker opens
the study from the shared storage itself. Reporting is idempotent, as a resumed run needs: a step
already reported is not reported again, and a trial the pruner stopped stays stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

TAG_TUNE_CONFIG = "tune.config"  # the config a trial tunes (its label)
TAG_TUNE_TRIAL = "tune.trial"  # the trial's number in its config's study
TAG_TUNE_STUDY = "tune.study"  # the Optuna study's name

if TYPE_CHECKING:
    from benchmark.run_config import RunConfig


@dataclass(frozen=True)
class TrialRef:
    study: str
    number: int
    label: str
    offset: int  # resource spent on the trial's earlier seeds: reported steps continue from it


@dataclass
class TrialHooks:
    """`benchmark.runs.RunHooks` for one wave of trial runs, keyed by run key."""

    storage_url: str
    resource: str  # steps or grad_evals: what the reported step (and the rungs) count
    objective: str
    parallel: int
    pruner: object  # a PrunerSpec
    trials: dict[str, TrialRef] = field(default_factory=dict)

    def tags(self, cfg: RunConfig) -> dict[str, str]:
        ref = self._ref(cfg)
        if ref is None:
            return {}
        return {TAG_TUNE_CONFIG: ref.label, TAG_TUNE_TRIAL: str(ref.number),
                TAG_TUNE_STUDY: ref.study}

    def on_evaluation(self, cfg: RunConfig) -> Reporter | None:
        ref = self._ref(cfg)
        return None if ref is None else Reporter(self, ref)

    def _ref(self, cfg: RunConfig) -> TrialRef | None:
        from benchmark.run_config import run_key

        return self.trials.get(run_key(cfg))


class Reporter:
    """The training callback of one trial run: report the objective, ask the pruner."""

    def __init__(self, hooks: TrialHooks, ref: TrialRef):
        self.hooks, self.ref = hooks, ref
        self._trial = None

    def trial(self):
        if self._trial is None:
            import optuna

            from benchmark.tuning.engine import make_pruner, storage

            study = optuna.load_study(study_name=self.ref.study,
                                      storage=storage(self.hooks.storage_url),
                                      pruner=make_pruner(self.hooks.pruner, self.hooks.parallel))
            frozen = study.get_trials(deepcopy=False)[self.ref.number]
            self._trial = optuna.trial.Trial(study, frozen._trial_id)
        return self._trial

    def __call__(self, step: int, grad_evals: int, metrics: dict[str, float]) -> bool:
        from benchmark.tuning.engine import PRUNED_AT_ATTR

        value = metrics.get(self.hooks.objective)
        if value is None:
            return False
        at = self.ref.offset + (step if self.hooks.resource == "steps" else grad_evals)
        trial = self.trial()
        frozen = trial.study.get_trials(deepcopy=False)[self.ref.number]
        pruned_at = frozen.user_attrs.get(PRUNED_AT_ATTR)
        if pruned_at is not None and at >= pruned_at:
            return True  # decided before an interruption: the same answer again
        if at not in frozen.intermediate_values:  # else a resumed run redoing an evaluation
            trial.report(float(value) if math.isfinite(value) else math.nan, at)
        if trial.should_prune():
            trial.set_user_attr(PRUNED_AT_ATTR, at)
            return True
        return False
