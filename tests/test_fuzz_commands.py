"""The command fuzzer (tests/fuzz_commands.py), for a bounded, seeded time in CI.

``MAGPIE_FUZZ_SEED`` picks another seed and ``MAGPIE_FUZZ_SECONDS`` another duration; a
failure names the seed (and the batch) that replays it:
``python tests/fuzz_commands.py --seed S --batch N``.
"""

from __future__ import annotations

import os

from fuzz_commands import Fuzzer

DEFAULT_SEED = 20240609
DEFAULT_SECONDS = 15.0


def test_fuzzed_commands_cause_no_internal_error_hang_or_broken_invariant():
    seed = int(os.environ.get("MAGPIE_FUZZ_SEED", DEFAULT_SEED))
    seconds = float(os.environ.get("MAGPIE_FUZZ_SECONDS", DEFAULT_SECONDS))
    report = Fuzzer(seed, seconds, log=False).run()
    failures = "\n\n".join(failure.report() for failure in report.failures)
    assert report.ok, f"command fuzzer, seed {seed}:\n{report.summary()}\n\n{failures}"
    assert report.calls > 0 and report.batches > 0, f"seed {seed}: nothing was fuzzed"
