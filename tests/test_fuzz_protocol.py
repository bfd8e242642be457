"""The protocol fuzzer (tests/fuzz_protocol.py) in CI: a short seeded run per parser (issue 9).

About 15 s in all: 8 s with hiredis in front and 7 s with the pure-Python parser only.
``MAGPIE_FUZZ_SEED`` replays another seed and ``MAGPIE_FUZZ_SECONDS`` sets the total time;
``make fuzz FUZZ_SECONDS=600`` runs the fuzzer for longer. A failure names the seed, the case
and its bytes, and the file they were written to.
"""

from __future__ import annotations

import os

import pytest
from fuzz_protocol import fuzz

SEED = int(os.environ.get("MAGPIE_FUZZ_SEED", "9"))
SECONDS = float(os.environ.get("MAGPIE_FUZZ_SECONDS", "15"))
TRIAGE_SECONDS = 60.0


@pytest.mark.timeout(SECONDS + 2 * TRIAGE_SECONDS + 60)
@pytest.mark.parametrize(
    "pure_python, share", [(False, 8 / 15), (True, 7 / 15)], ids=["hiredis", "pure"]
)
def test_hostile_bytes_never_break_the_server(pure_python, share):
    result = fuzz(SECONDS * share, SEED, pure_python, triage_seconds=TRIAGE_SECONDS)
    assert result.failure is None, result.describe()
