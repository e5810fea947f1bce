"""Hyperparameter search with an equal budget for every config (`python -m benchmark.tune`).

search.py reads and checks a tune grid's `search:` section; engine.py keeps one Optuna study per
config (ask in seeded batches, tell outcomes); hooks.py reports each evaluation of a trial's run
to its study and stops the run when the pruner says so; outputs.py writes the best settings, the
best-so-far figure and the confirmation grid. docs/tuning.md explains the choices.
"""
