"""A run stopped by a pruning hook is a recorded outcome: MLflow run FINISHED with outcome
`pruned` and the step, the hook's tags on it, and a rerun skips it instead of training again.
A real tiny run on the embedded digits, a real sqlite store."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner_helpers import TINY_CHECKPOINTED

from benchmark.run_config import RunConfig, run_key
from benchmark.runs import Target, execute
from benchmark.tracking import MlflowStore
from benchmark.validation import from_dict


@dataclass
class StopAt:
    """RunHooks that stop the run at its first evaluation at or after `step`."""

    step: int
    seen: list = field(default_factory=list)

    def tags(self, cfg: RunConfig) -> dict[str, str]:
        return {"tune.config": "tiny", "tune.trial": "7"}

    def on_evaluation(self, cfg: RunConfig):
        def callback(step: int, grad_evals: int, metrics: dict[str, float]) -> bool:
            self.seen.append((step, grad_evals, sorted(metrics)))
            return step >= self.step
        return callback


def test_a_pruned_run_is_an_outcome_and_is_not_trained_again(tmp_path):
    cfg = from_dict(RunConfig, TINY_CHECKPOINTED)  # 12 steps, evaluated every 4
    hooks = StopAt(8)
    target = Target(f"sqlite:///{tmp_path}/mlflow.db", "pruning", None, str(tmp_path / "ckpt"),
                    hooks=hooks)
    summary = execute(cfg, target, threads=1)
    assert (summary.outcome, summary.step) == ("pruned", 8)
    assert "recon_mse" in summary.metrics
    assert [(s, g) for s, g, _ in hooks.seen] == [(4, 8), (8, 16)]  # alternating: 2 per step
    store = MlflowStore(target.tracking_uri)
    run = store.client.get_run(store.find(store.experiment_id("pruning"), run_key(cfg)).run_id)
    assert run.info.status == "FINISHED"
    assert {k: run.data.tags[k] for k in ("outcome", "pruned_step", "tune.config", "tune.trial")} \
        == {"outcome": "pruned", "pruned_step": "8", "tune.config": "tiny", "tune.trial": "7"}

    again = execute(cfg, target, threads=1)
    assert again.outcome == "skipped-pruned" and len(hooks.seen) == 2
