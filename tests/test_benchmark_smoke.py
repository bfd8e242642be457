"""``benchmarks/kv.py --quick`` runs end to end against redis-server and Magpie.

Only the shape of the output is checked: timing and ratios depend on the machine, so they are
never asserted here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "kv.py"
TESTS = ("SET", "GET", "INCR", "MSET (10 keys)")


@pytest.fixture
def benchmark_tools() -> None:
    missing = [tool for tool in ("redis-server", "redis-benchmark") if not shutil.which(tool)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(
                f"{', '.join(missing)} must be installed in CI for the benchmark smoke test"
            )
        pytest.skip(f"{', '.join(missing)} not installed")


@pytest.mark.timeout(90)
def test_quick_benchmark_prints_a_ratio_row_per_test_and_pipeline(benchmark_tools) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--skip-memory", "-n", "500",
         "--n-pipelined", "2000", "--clients", "10"],
        capture_output=True, text=True, timeout=80,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for test in TESTS:
        for pipeline in (1, 16):
            row = rf"^{re.escape(test)}\s+{pipeline}\s+[\d,]+\s+[\d,]+\s+\d+\.\d\dx"
            assert re.search(row, done.stdout, re.MULTILINE), (
                f"no {test} P={pipeline} row:\n{done.stdout}"
            )
