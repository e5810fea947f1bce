"""The grid's data, checked before `benchmark.run` creates anything: every run's dataset is on
disk, and every run's subsets and eval counts fit the splits it gets.

Found now, a mistake is one error line and exit 2; found by a run, it would be a grid of failed
runs in the store, each at step 0. The rules are the ones loading and evaluation apply
(`split_sizes` checks the subsets as `load_dataset` does, `check_counts` is the Evaluator's),
here applied to sizes counted without decoding the images where the source can count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from benchmark.errors import ConfigError

if TYPE_CHECKING:
    from benchmark.run_config import RunConfig


def check_data(runs: Sequence[RunConfig], require_present: bool = True) -> None:
    """Each dataset is on disk (one lookup per dataset and folder; skipped when not
    `require_present`, as a dry run lists a grid anywhere), then the counts of every run whose
    data is there: the sizes once per data config, the eval counts per run.

    The error names the run: `...; choose from: 1..1017 (run 3 of 12: cifar10-adam-...-s0)`."""
    from benchmark.data import check_available, readable_sizes
    from benchmark.evaluation.settings import check_counts
    from benchmark.run_config import run_name

    if require_present:  # one lookup per dataset and folder
        where = {(r.data.dataset, r.data.data_root, r.data.download): r.data for r in runs}
        for data in where.values():
            check_available(data)
    sizes: dict[tuple, dict[str, int] | None] = {}
    for i, cfg in enumerate(runs, 1):
        data = cfg.data
        which = (data.dataset, data.data_root, data.download, data.train_subset, data.test_subset)
        try:
            if which not in sizes:
                sizes[which] = readable_sizes(data)
            if sizes[which] is not None:
                check_counts(cfg.eval, sizes[which], data.dataset)
        except ConfigError as err:
            raise ConfigError(f"{err} (run {i} of {len(runs)}: {run_name(cfg)})") from None
