"""The names alibench writes into MLflow (docs/CONTRACTS.md): run tags and experiment tags."""

TAG_KIND = "alibench.kind"  # KIND_RUN for a training run, KIND_GRID for a grid invocation
KIND_RUN = "run"
KIND_GRID = "grid"
TAG_RUN_KEY = "run_key"
TAG_CONFIG_KEY = "config_key"
TAG_OUTCOME = "outcome"  # an `Outcome` value
TAG_DIVERGED_STEP = "diverged_step"
TAG_PRUNED_STEP = "pruned_step"  # a pruned run: the step it was stopped at
TAG_ERROR = "error"
TAG_TORCH_THREADS = "torch_threads"  # training runs: torch threads, beside cpu_time_s
TAG_COLLAPSED = "collapsed"
TAG_GRID_RUN = "alibench.grid_run"  # training runs: the grid run that started them
TAG_CONFIG = "alibench.config"  # training runs: the config's readable name (no seed)
TAG_DESCRIPTION = "mlflow.note.content"  # the run's description in the UI
TAG_HOST = "alibench.host"  # grid runs: where the invocation runs
TAG_PID = "alibench.pid"  # grid runs: its process id there
KEY_TAGS = ("dataset", "optimizer", "scheme", "stabilizers")  # the UI's columns of choices

# MLflow 3's UI opens an experiment by its kind; without the tag it guesses, and a grid's
# experiment opened on the GenAI overview (traces, token usage) instead of the training runs.
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"
