"""``benchmarks/scripting.py --quick`` runs end to end and reports every row.

Only the shape is checked: redis-server's numbers must be there, and Magpie either has numbers
too or a ``FAILED`` cell with its reason listed (exit status 1), never a traceback. Timing and
ratios depend on the machine and are not asserted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "scripting.py"
TESTS = ("EVALSHA INCR", "EVALSHA INCR -P 16", "Lock acquire+release")


@pytest.mark.timeout(120)
def test_quick_scripting_benchmark_prints_a_row_per_test() -> None:
    missing = [tool for tool in ("redis-server", "redis-benchmark") if not shutil.which(tool)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} must be installed in CI for the benchmark smoke test")
        pytest.skip(f"{', '.join(missing)} not installed")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "-n", "500", "--n-pipelined", "2000",
         "--clients", "10", "--lock-pairs", "100"],
        capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    for test in TESTS:
        row = rf"^{re.escape(test)}\s+[\d,]+\s+([\d,]+\s+\d+\.\d\dx|FAILED)"
        assert re.search(row, done.stdout, re.MULTILINE), f"no {test} row:\n{done.stdout}"
    if done.returncode == 1:
        assert "\nFAILED:\n  magpie " in done.stdout, done.stdout
