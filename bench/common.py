"""What every benchmark shares: the figure lines, the deploy script, the running stack as a target."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | int | str
    unit: str = ""

    def line(self) -> str:
        value = f"{self.value:.3f}".rstrip("0").rstrip(".") if isinstance(self.value, float) else str(self.value)
        return f"{self.name}: {value} {self.unit}".rstrip()


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def deploy(*args: str, env: dict[str, str] | None = None) -> float:
    """Run ./deploy.sh ARGS; seconds taken. A failure stops the benchmark with deploy.sh's own message."""
    started = time.monotonic()
    result = subprocess.run([str(REPO / "deploy.sh"), *args], capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"bench: ./deploy.sh {' '.join(args)} failed: "
                         f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}")
    return time.monotonic() - started


@contextmanager
def timed() -> Iterator[list[float]]:
    """with timed() as t: ...; t[0] is the elapsed seconds afterwards."""
    box: list[float] = []
    started = time.monotonic()
    yield box
    box.append(time.monotonic() - started)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
