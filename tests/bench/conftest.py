"""Make the benchmark folder importable, as it is when a benchmark runs (``python bench/...``)."""

from __future__ import annotations

from pathlib import Path
import sys

BENCH_DIR = str(Path(__file__).resolve().parents[2] / "bench")

if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)
