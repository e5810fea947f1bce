"""Hardware efficiency: a training step's floating-point work against the machine's peak.

    PYTHONPATH=. python bench/hardware.py [--model 32x32] [--rounds 3] [--steps 3] [--quick]
                                          [--threads N]

The machine's peak is the best of a few float32 matrix products (n x n, 2n^3 operations each),
timed in the same run. The operations of one update (alternating Adam, batch 100, a paper model
at width 1) are counted with `torch.utils.flop_counter.FlopCounterMode` (matrix products and
convolutions, forward and backward). The fraction of peak of a variant is
flops per step / seconds per step / peak.

The cheap wins tried, each its own model and optimizers, timed one block of `--steps` updates
at a time in round-robin order (the order rotating every round; medians reported):
- memory format: contiguous (NCHW) weights and batch, as the suite had them `before` this
  bench, against the channels-last (NHWC) weights it keeps now (`CONV_MEMORY_FORMAT`);
- dropout: torch's `nn.Dropout`, as the discriminator had it before issue 17, against the
  suite's cheaper draw (`benchmark.models.dropout.Dropout`, same distribution), the whole
  dropout compiled by inductor (`bench.dropout_variants.InductorDropout`: draws inside the
  fused kernel, on every thread; its compilation is timed apart), and no dropout at all (a
  bound: what dropout costs). The same four are also timed on the discriminator's dropouts
  alone (forward and backward on the tensors one discriminator pass feeds them), where the
  noise floor is far below a whole step's;
- Adam's implementation: the for-loop default on CPU, `foreach=True`, `fused=True`;
- intra-op threads: `torch.set_num_threads(1)` against all cores;
- inter-op threads: 1 against the default, in child processes (it can only be set at start);
- evaluation under `torch.inference_mode()` against `torch.no_grad()` (recon_mse, probe, knn
  on real MNIST through the evaluator's metrics).
`suite` is the update exactly as `benchmark.training` builds it (channels-last, the registry's
Adam: torch's for-loop default on CPU); `suite again` is a second identical copy, so the spread
between the two is the noise floor of this run. A variant is worth keeping only if it beats
`suite` by more than that floor; the ones that do are printed. `--threads N` sets the intra-op
threads of every row (on a machine other jobs load, 2 threads oversubscribe the cores and the
rows' spread swamps the differences; 1 thread does not).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import BATCH, PAPER_MODELS, bare_step, machine_line, time_steps, wait_for_quiet
from bench.dropout_variants import InductorDropout, dropout_inputs, dropout_times
from benchmark.models import ModelConfig
from benchmark.models.dropout import Dropout

ROOT = Path(__file__).resolve().parents[1]
BETAS = (0.5, 0.999)
BEFORE = "before (NCHW weights)"
SUITE = "suite (NHWC weights, adam)"
SUITE_AGAIN = "suite again (noise floor)"
TORCH_DROPOUT = "nn.Dropout (before #17)"
NO_DROPOUT = "no dropout (bound)"
INDUCTOR_DROPOUT = "inductor dropout (compiled)"
SUITE_DROPOUT = "suite (rand_like < 1 - p)"


def peak_flops(n: int, reps: int) -> float:
    """Best float32 matmul rate (operations per second) over `reps` products of n x n."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n ** 3 / best


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def step_flops(step: Callable[[], object]) -> int:
    """Floating-point operations of one call, as `FlopCounterMode` counts them."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def adam(impl: str) -> Callable[[list[torch.nn.Parameter], float], torch.optim.Optimizer]:
    """torch's Adam with the paper's betas in one of its implementations."""
    options = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
               "fused": {"fused": True}}[impl]
    return lambda params, lr: torch.optim.Adam(params, lr=lr, betas=BETAS, **options)


@contextmanager
def threads(count: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def replace_dropout(module: torch.nn.Module, make: Callable[[float], torch.nn.Module]) -> None:
    """Swap every dropout module under `module` (torch's or the suite's) for make(p)."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Dropout):
            setattr(module, name, make(child.p))
        else:
            replace_dropout(child, make)


def training_variants(model: ModelConfig, shape: tuple, batch: torch.Tensor
                      ) -> dict[str, tuple[Callable[[], object], int | None]]:
    """Label -> (one update, intra-op threads or None for all)."""
    def make(memory_format: torch.memory_format | None = None, impl: str | None = None,
             dropout: Callable[[float], torch.nn.Module] | None = None):
        step = bare_step(model, shape, batch, memory_format=memory_format,
                         make_optimizer=adam(impl) if impl else None)
        if dropout is not None:
            replace_dropout(step.ali.discriminator, dropout)
        return step.run

    return {
        BEFORE: (make(torch.contiguous_format), None),
        TORCH_DROPOUT: (make(dropout=torch.nn.Dropout), None),
        NO_DROPOUT: (make(dropout=lambda p: torch.nn.Identity()), None),
        INDUCTOR_DROPOUT: (make(dropout=InductorDropout), None),
        SUITE: (make(), None),
        "adam foreach": (make(impl="foreach"), None),
        "adam fused": (make(impl="fused"), None),
        "1 intra-op thread": (make(), 1),
        SUITE_AGAIN: (make(), None),
    }


def round_robin(jobs: dict[str, tuple[Callable[[], object], int | None]], steps: int,
                rounds: int) -> dict[str, float]:
    """Median seconds per update of each job; each round times `steps` updates per job."""
    names = list(jobs)
    for step, count in jobs.values():  # warm-up: first calls allocate and pick kernels
        with threads(count):
            time_steps(step, 1, warmup=1)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            step, count = jobs[name]
            with threads(count):
                times[name].append(time_steps(step, steps, warmup=0))
    return {n: statistics.median(t) for n, t in times.items()}


def child_step_time(label: str, interop: int | None, steps: int, quick: bool) -> float:
    """Seconds per update in a fresh process with `interop` inter-op threads (None: default)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--model", label,
           "--steps", str(steps), "--threads", str(torch.get_num_threads())]
    if interop:
        cmd += ["--interop", str(interop)]
    if quick:
        cmd.append("--quick")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def evaluation_times(model: ModelConfig, data_root: str, rounds: int, quick: bool
                     ) -> dict[str, float]:
    """Median seconds of one evaluation (recon_mse, probe, knn) under no_grad and inference_mode."""
    from benchmark.data import DataConfig, load_dataset
    from benchmark.evaluation import METRICS, EvalConfig
    from benchmark.evaluation.context import fork_rng
    from benchmark.evaluation.evaluator import Evaluator
    from benchmark.models import build_ali

    data = load_dataset(DataConfig(dataset="mnist", data_root=data_root,
                                   train_subset=5000 if quick else None), seed=0)
    shape = tuple(data.train.x.shape[1:])
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory(prefix="alibench-bench-hw-") as cache:
        cfg = EvalConfig(metrics=["recon_mse", "probe", "knn"], cache_dir=cache)
        evaluator = Evaluator(cfg, data, device, seed=0)
        torch.manual_seed(0)
        ali = build_ali(model, shape).eval()

        def evaluate(mode: Callable[[], AbstractContextManager]) -> Callable[[], object]:
            def run() -> None:  # the body of Evaluator.evaluate under `mode`
                with fork_rng(device), mode():
                    ctx = evaluator.context.scoring(ali.encoder, ali)
                    for name in cfg.metrics:
                        METRICS[name].compute(ctx)
            return run

        jobs = {"no_grad": (evaluate(torch.no_grad), None),
                "inference_mode": (evaluate(torch.inference_mode), None)}
        return round_robin(jobs, 1, rounds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="32x32", choices=sorted(PAPER_MODELS))
    p.add_argument("--data-root", default="data", help="folder holding mnist/ (evaluation)")
    p.add_argument("--rounds", type=int, default=3, help="round-robin rounds (default: 3)")
    p.add_argument("--steps", type=int, default=3, help="updates per timed block (default: 3)")
    p.add_argument("--matmul", type=int, default=3072, help="n of the peak's n x n matmul")
    p.add_argument("--quick", action="store_true", help="width 0.125: a smoke test")
    p.add_argument("--threads", type=int, help="intra-op threads of every row (default: torch's)")
    p.add_argument("--wait-load", type=float, default=0.0,
                   help="first wait (up to 20 min) for a 1-minute load below this (0: don't)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--interop", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.interop:
        torch.set_num_interop_threads(args.interop)
    if args.threads:
        torch.set_num_threads(args.threads)
    paper = PAPER_MODELS[args.model]
    model = paper.model()
    if args.quick:
        model = dataclasses.replace(model, width=0.125)
    torch.manual_seed(0)
    batch = torch.rand(BATCH, *paper.shape)  # (B, C, H, W): the values do not change the work
    if args.child:
        print(time_steps(bare_step(model, paper.shape, batch).run, args.steps, warmup=1))
        return
    if args.wait_load:
        wait_for_quiet(args.wait_load, 1200)

    variants = training_variants(model, paper.shape, batch)
    suite_first = _timed(variants[SUITE][0])  # first calls: allocation, and inductor's compile
    compile_s = _timed(variants[INDUCTOR_DROPOUT][0]) - suite_first
    flops = step_flops(variants[SUITE][0])
    peak = peak_flops(args.matmul, 3)
    step_s = round_robin(variants, args.steps, args.rounds)
    with threads(1):
        peak_1 = peak_flops(args.matmul, 3)
    peak_after = peak_flops(args.matmul, 3)
    interop: dict[str, list[float]] = {"default": [], "1": []}
    for r in range(args.rounds):
        for name in (("default", "1") if r % 2 == 0 else ("1", "default")):
            interop[name].append(child_step_time(args.model, None if name == "default" else 1,
                                                 args.steps, args.quick))
    probe = bare_step(model, paper.shape, batch)
    layouts = dropout_inputs(probe.ali.discriminator, probe.run)
    dropout_s = dropout_times(layouts, {TORCH_DROPOUT: torch.nn.Dropout(model.dropout),
                                        SUITE_DROPOUT: Dropout(model.dropout),
                                        INDUCTOR_DROPOUT: InductorDropout(model.dropout),
                                        NO_DROPOUT: torch.nn.Identity()}, 10 * args.rounds)
    evaluation = evaluation_times(model if args.model == "28x28" else PAPER_MODELS["28x28"].model(),
                                  args.data_root, args.rounds, args.quick)

    peak = max(peak, peak_after)
    print(f"hardware efficiency, {paper.label} model ({'x'.join(map(str, paper.shape))}, "
          f"z_dim {model.z_dim}, width {model.width:g}), alternating adam, batch {BATCH}")
    print(f"{machine_line()}; {torch.get_num_interop_threads()} inter-op threads by default")
    print(f"peak: float32 {args.matmul}^2 matmul {peak / 1e9:.1f} GFLOP/s on "
          f"{torch.get_num_threads()} threads ({peak_1 / 1e9:.1f} on 1); one update: "
          f"{flops / 1e9:.2f} GFLOP (FlopCounterMode); medians of {args.rounds} rounds x "
          f"{args.steps} updates")
    suite = step_s[SUITE]
    floor = abs(suite / step_s[SUITE_AGAIN] - 1)
    print(f"{'variant':<30} {'s/update':>9} {'img/s':>7} {'GFLOP/s':>8} {'of peak':>8} "
          f"{'vs suite':>9}")
    for name, seconds in step_s.items():
        print(f"{name:<30} {seconds:>9.3f} {BATCH / seconds:>7.1f} {flops / seconds / 1e9:>8.1f} "
              f"{flops / seconds / peak:>7.1%} {suite / seconds:>8.2f}x")
    for name, times in interop.items():
        seconds = statistics.median(times)
        label = f"inter-op threads {name} (child)"
        print(f"{label:<30} {seconds:>9.3f} {BATCH / seconds:>7.1f} {flops / seconds / 1e9:>8.1f} "
              f"{flops / seconds / peak:>7.1%} {'':>9}")
    ratio = statistics.median(interop["default"]) / statistics.median(interop["1"])
    print(f"inter-op threads 1 vs default: {ratio:.2f}x (children, not comparable with the rows "
          "above in absolute terms)")
    e = evaluation
    print(f"evaluation (28x28 model, recon_mse + probe + knn, real MNIST): no_grad "
          f"{e['no_grad']:.3f} s, inference_mode {e['inference_mode']:.3f} s "
          f"({e['no_grad'] / e['inference_mode']:.2f}x)")
    gains = {n: suite / t - 1 for n, t in step_s.items() if n not in (SUITE, SUITE_AGAIN)}
    print(f"noise floor (suite vs its identical copy): {floor:.1%}; faster than the suite beyond "
          "it: " + (", ".join(f"{n} (+{g:.1%})" for n, g in gains.items() if g > floor)
                    or "nothing"))
    before = step_s[BEFORE]
    print(f"fraction of peak: before {flops / before / peak:.1%}, suite {flops / suite / peak:.1%} "
          f"({before / suite:.2f}x)")
    torch_dropout = step_s[TORCH_DROPOUT]
    print(f"dropout: suite {flops / suite / 1e9:.1f} GFLOP/s against nn.Dropout "
          f"{flops / torch_dropout / 1e9:.1f} ({torch_dropout / suite:.2f}x); inductor "
          f"{flops / step_s[INDUCTOR_DROPOUT] / 1e9:.1f} ({suite / step_s[INDUCTOR_DROPOUT]:.2f}x"
          f" the suite, its first update {compile_s:+.1f} s: compilation); without dropout "
          f"{flops / step_s[NO_DROPOUT] / 1e9:.1f}")
    floor_s = dropout_s[NO_DROPOUT]
    print(f"the discriminator's {len(layouts)} dropouts alone, forward + backward on one pass's "
          f"tensors (4 passes per alternating step), medians of {10 * args.rounds} rounds; "
          f"cost = time - no dropout's ({floor_s * 1e3:.1f} ms, making the gradients):")
    for name, seconds in dropout_s.items():
        cost = seconds - floor_s
        print(f"  {name:<30} {seconds * 1e3:>7.1f} ms, cost {cost * 1e3:>6.1f} ms"
              + (f" ({(dropout_s[SUITE_DROPOUT] - floor_s) / cost:.2f}x the suite's speed)"
                 if cost > 0 else ""))

if __name__ == "__main__":
    main()
