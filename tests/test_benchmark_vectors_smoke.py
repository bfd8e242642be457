"""``benchmarks/vectors.py --quick`` runs end to end against raw hnswlib and a Magpie server.

Only the shape of the output is checked: throughput, recall and latency depend on the machine
(and the quick data set is tiny), so no figure is asserted. No plot is asked for, so the test
does not need matplotlib.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "vectors.py"


@pytest.mark.timeout(90)
def test_quick_vector_benchmark_prints_a_row_per_ef_and_the_ingestion_and_latency_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--n", "2000", "--queries", "50",
         "--efs", "10,40", "--seconds", "0.3", "--clients", "2", "--ingest-during", "1000"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for ef in (10, 40):
        row = rf"^{ef}\s+[01]\.\d{{3}}\s+[\d,]+\s+[01]\.\d{{3}}\s+[\d,]+\s+\d+\.\d\dx"
        assert re.search(row, done.stdout, re.MULTILINE), f"no ef {ef} row:\n{done.stdout}"
    assert re.search(r"^ingestion \(vectors/s\)\s+[\d,]+\s+[\d,]+\s+\d+\.\d\dx", done.stdout,
                     re.MULTILINE), done.stdout  # fmt: skip
    assert re.search(r"^same while ingesting .*p99", done.stdout, re.MULTILINE), done.stdout
