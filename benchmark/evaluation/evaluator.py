"""`Evaluator`: the configured metrics, baselines and panels of one run, on fixed inputs.

Built once per run. It chooses the fixed inputs, resolves the FID extractor's weights (failing
before training if they are missing), and then scores any model handed to `evaluate` without
changing it: eval mode during the call and the previous modes restored after, no gradients, and
the global RNG forked so a run trains identically whether or not it evaluates.

Baselines are logged beside a run's own numbers at step 0, so every metric has a number to be
read against: each metric's own `baseline` (e.g. the mean image, a randomly initialised encoder
of the same architecture, scored through the run's BatchNorm protocol as its models are),
`classifier_test_acc`, the accuracy of the classifier behind fid_classifier and recon_acc, i.e.
how much its judgement is worth, and (`untrained`) every metric of the run's own networks
before their first step, so a run that ends worse than it started says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmark.batch_norm import RUNNING, ScoringProtocol
from benchmark.data import DataBundle
from benchmark.evaluation import panels as panel_images
from benchmark.evaluation.caching import digest, fingerprint, read_json, write_json
from benchmark.evaluation.classifier import (
    ClassifierSettings,
    TrainedClassifier,
    load_or_train_classifier,
)
from benchmark.evaluation.context import (
    FIXED_SEED,
    EvalContext,
    build_fixed_inputs,
    fixed_indices,
    fork_rng,
    latents,
    reconstruct,
)
from benchmark.evaluation.declarations import METRICS, UNTRAINED_PREFIX, uses_fid_features
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS, WeightsSource
from benchmark.evaluation.recon_acc import KEY_CLASSIFIER_TEST_ACC
from benchmark.evaluation.settings import (
    EvalConfig,
    check_counts,
    resolve_counts,
    validate_eval_config,
)

PANEL_GENERATION = "generation"
PANEL_RECONSTRUCTION = "reconstruction"
PANEL_INTERPOLATION = "interpolation"
PANEL_SAMPLES = "samples"  # points data: a scatter plot instead of image panels


def has_labels(data: DataBundle) -> bool:
    """CelebA's labels are all 0: no classes to probe, classify or train a classifier on."""
    return len(torch.unique(data.train.y)) > 1


def random_encoder(make_encoder: Callable[[], nn.Module], seed: int,
                   device: torch.device) -> nn.Module:
    """A freshly initialised encoder, from its own seed so the training RNG stream is untouched."""
    with fork_rng(device):
        torch.manual_seed(seed)
        encoder = make_encoder()
    return encoder.to(device).eval()


@contextmanager
def evaluation_mode(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Eval mode, no grad and a forked RNG; every submodule's own mode comes back afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with fork_rng(device), torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


class Evaluator:
    """Scores models of one run on inputs that every run of the benchmark shares.

    `make_random_encoder` builds an untrained encoder of the run's architecture for the
    probe_acc_random / knn_acc_random baselines (None: those baselines are skipped). `seed` seeds
    that random encoder only: the fixed inputs and the FID classifier use `FIXED_SEED`, so runs with
    different seeds are measured with the same instrument. `dataset_name` labels cache files.
    `protocol`: the run's BatchNorm protocol (`benchmark.batch_norm.ScoringProtocol`), which the
    random encoder is scored through at step 0 exactly as the run's models are; `RUNNING`
    (networks scored as they are) for an evaluator on its own.
    """

    def __init__(self, cfg: EvalConfig, data: DataBundle, device: torch.device,
                 make_random_encoder: Callable[[], nn.Module] | None = None, seed: int = 0,
                 dataset_name: str | None = None, protocol: ScoringProtocol = RUNNING):
        sizes = {"train": len(data.train), "test": len(data.test)}
        cfg = resolve_counts(cfg, sizes)  # a no-op for a grid's runs, resolved already
        validate_eval_config(cfg, data, has_labels(data))
        self.metrics = set(cfg.metrics)
        check_counts(cfg, sizes, dataset_name or "this dataset")
        self.cfg, self.data, self.device, self.seed = cfg, data, device, seed
        self.make_random_encoder, self.protocol = make_random_encoder, protocol
        shape = "x".join(map(str, data.train.x.shape[1:]))
        self.tag = dataset_name or f"{data.kind}{shape}"
        self.inputs = build_fixed_inputs(cfg, data)
        self._classifier: TrainedClassifier | None = None
        self._baselines: dict[str, float] | None = None
        self._data_fingerprint: str | None = None
        self._fid_weights: str | None = None
        self.context = EvalContext(cfg, device, self.inputs, self.classifier,
                                   lambda: self._fid_weights)  # scores nothing: `scoring` does
        if uses_fid_features(self.metrics):  # missing weights fail here, not at evaluation
            extractor = FEATURE_EXTRACTORS.get(cfg.fid_extractor)
            source = WeightsSource(cfg.weights_path, lambda: self.trained_classifier().path)
            self._fid_weights = extractor.weights(source)

    # --- the public calls -----------------------------------------------------------------

    def evaluate(self, ali: nn.Module) -> dict[str, float]:
        """The configured metrics of `ali` as a flat dict of floats."""
        with evaluation_mode(ali, self.device):
            ctx = self.context.scoring(ali.encoder, ali)
            out: dict[str, float] = {}
            for name in self.cfg.metrics:
                out.update(METRICS[name].compute(ctx))
        return out

    def untrained(self, scored: nn.Module) -> dict[str, float]:
        """The untrained-model baseline: the metrics of the run's networks at step 0, `scored`
        by the protocol the trained ones get, each key K logged as `untrained_K`."""
        return {UNTRAINED_PREFIX + k: v for k, v in self.evaluate(scored).items()}

    def baselines(self) -> dict[str, float]:
        """Baselines of the configured metrics (cached on disk per data and settings)."""
        if self._baselines is None:
            out = self._cached_baselines()
            if self._uses_classifier():
                out[KEY_CLASSIFIER_TEST_ACC] = self.trained_classifier().test_acc
            self._baselines = out
        return dict(self._baselines)

    def panels(self, ali: nn.Module) -> dict[str, np.ndarray]:
        """uint8 (H, W, 3) images from fixed inputs: generation, reconstruction, interpolation
        for images; a scatter plot of samples over real points for points."""
        cfg, inputs = self.cfg, self.inputs
        with evaluation_mode(ali, self.device):
            ctx = self.context.scoring(ali.encoder, ali)
            if self.data.kind == "points":
                real = self.data.test.x[inputs.test]
                samples = ctx.decoded(cfg.mode_sample_count, "modes_z")
                return {PANEL_SAMPLES: panel_images.scatter_panel(samples, real)}
            x = inputs.test_x(inputs.panel)
            eps = latents(max(len(inputs.recon), len(x)), ali.z_dim, "recon_eps")[: len(x)]
            recon = reconstruct(ali, x, eps, cfg.batch_size, self.device).sample
            a, b = (self.data.test.x[idx] for idx in inputs.pairs)
            return {
                PANEL_GENERATION: panel_images.generation_panel(
                    ctx.decoded(cfg.panel_count ** 2, "panel_z"), cfg.panel_count),
                PANEL_RECONSTRUCTION: panel_images.reconstruction_panel(x, recon),
                PANEL_INTERPOLATION: panel_images.interpolation_panel(
                    ali, a, b, cfg.interpolation_steps, self.device),
            }

    # --- the FID / recon_acc classifier ---------------------------------------------------

    def trained_classifier(self) -> TrainedClassifier:
        """The dataset's classifier: loaded from the cache, or trained once and cached."""
        if self._classifier is None:
            train, test = self.data.train, self.data.test
            count = self.cfg.classifier_train_count or len(train)  # checked by check_counts
            idx = fixed_indices(len(train), count, FIXED_SEED, "classifier")
            x, y = train.x[idx], train.y[idx]
            settings = ClassifierSettings(
                channels=x.shape[1], image_size=x.shape[-1], num_classes=int(train.y.max()) + 1,
                epochs=self.cfg.classifier_epochs, train_count=len(x), seed=FIXED_SEED,
                min_updates=self.cfg.classifier_min_updates)
            key = settings.digest(fingerprint(x, y, test.x, test.y))
            path = Path(self.cfg.cache_dir) / "classifiers" / f"{self.tag}-{key}.pt"
            self._classifier = load_or_train_classifier(path, settings, (x, y), (test.x, test.y),
                                                        self.device)
        return self._classifier

    def classifier(self) -> nn.Module:
        return self.trained_classifier().model

    def _uses_classifier(self) -> bool:
        fid_on_classifier = (uses_fid_features(self.metrics)
                             and FEATURE_EXTRACTORS.get(self.cfg.fid_extractor).needs_labels)
        return fid_on_classifier or any(METRICS[m].uses_classifier for m in self.metrics)

    # --- baselines ------------------------------------------------------------------------

    def _cached_baselines(self) -> dict[str, float]:
        """The configured metrics' own baselines, computed once per data, settings, encoder
        architecture and scoring protocol: with a random encoder (from the run's seed), scored
        through the run's protocol at step 0 as its models are, and no decoder."""
        wanted = sorted(m for m in self.metrics if METRICS[m].baseline is not None)
        if not wanted:
            return {}
        encoder = None
        if self.make_random_encoder is not None:
            encoder = random_encoder(self.make_random_encoder, self.seed, self.device)
            with fork_rng(self.device):
                encoder = self.protocol.encoder(encoder, 0)
        architecture = ([[k, list(v.shape)] for k, v in encoder.state_dict().items()]
                        if encoder is not None else None)
        settings = {f.name: getattr(self.cfg, f.name) for f in dataclasses.fields(self.cfg)
                    if f.metadata.get("in_key", True) and f.name != "metrics"}
        declared = sorted({k.baseline.key for name in wanted for k in METRICS[name].keys
                           if k.baseline is not None})  # a metric gaining a baseline: new file
        key = digest({"data": self._fingerprint(), "metrics": wanted, "seed": self.seed,
                      "fixed_seed": FIXED_SEED, "encoder": architecture, "settings": settings,
                      "baselines": declared, "protocol": self.protocol.describe()})
        path = Path(self.cfg.cache_dir) / "baselines" / f"{self.tag}-{key}.json"
        cached = read_json(path)
        if cached is not None:
            return cached
        out: dict[str, float] = {}
        with contextlib.ExitStack() as stack:  # the model's evaluation mode, as in `evaluate`
            if encoder is not None:
                stack.enter_context(evaluation_mode(encoder, self.device))
            else:
                stack.enter_context(fork_rng(self.device))
                stack.enter_context(torch.no_grad())
            ctx = self.context.scoring(encoder)
            for name in wanted:
                out.update(METRICS[name].baseline(ctx))
        write_json(out, path)
        return out

    def _fingerprint(self) -> str:
        if self._data_fingerprint is None:
            d = self.data
            self._data_fingerprint = fingerprint(d.train.x, d.train.y, d.test.x, d.test.y)
        return self._data_fingerprint

