"""Progress of a grid: a grid bar and a per-run bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys

from tqdm import tqdm

from benchmark.run_config import RunConfig, run_name


class _RunLines:
    """Per-run progress as a few plain lines (logs, CI), not a bar redrawn in place.

    Nothing is printed until the first step is trained, so a run the grid skips prints no
    start line, and a resumed one says where it resumed.
    """

    def __init__(self, name: str, total: int):
        self.name, self.total, self.next_mark = name, total, 0.25
        self.started = False

    def __call__(self, step: int) -> None:
        if not self.started:
            self.started = True
            where = f" (resumed after step {step - 1})" if step > 1 else ""
            print(f"benchmark.run: start {self.name}{where}", file=sys.stderr, flush=True)
        if step / self.total >= self.next_mark:
            print(f"benchmark.run:   {self.name} step {step}/{self.total}", file=sys.stderr,
                  flush=True)
            while step / self.total >= self.next_mark:
                self.next_mark += 0.25

    def close(self) -> None:
        pass


class _RunBar:
    def __init__(self, name: str, total: int):
        self.bar = tqdm(total=total, desc=name[:40], position=1, leave=False, unit="step",
                        dynamic_ncols=True)

    def __call__(self, step: int) -> None:
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        self.bar.close()


class GridProgress:
    def __init__(self, runs: int, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.bar = tqdm(total=runs, desc="grid", unit="run", position=0, file=self.stream,
                        disable=not self.interactive, dynamic_ncols=True)
        self.done, self.runs = 0, runs

    def run_bar(self, cfg: RunConfig):
        cls = _RunBar if self.interactive else _RunLines
        from benchmark.schemes import total_steps  # torch: a run is about to start anyway

        return cls(run_name(cfg), total_steps(cfg))

    def run_done(self, line: str) -> None:
        """Print a run's summary line (stdout: it is the grid's result) and advance."""
        self.done += 1
        if self.interactive:
            self.bar.write(line, file=sys.stdout)
            self.bar.update(1)
        else:
            print(f"[{self.done}/{self.runs}] {line}", flush=True)

    def close(self) -> None:
        self.bar.close()
