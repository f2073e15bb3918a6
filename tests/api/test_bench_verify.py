"""`propcheck bench verify` runs end to end (short) and checks its own record."""

from __future__ import annotations

import secrets
import shutil

import pytest

from api.bench_verify import ROOT, Options, main

pytestmark = pytest.mark.slow


def test_bench_verify_runs_and_every_verification_is_recorded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Not under tmp_path: the embedded server runs as its own user when we are root.
    home = ROOT / "var" / f"bench-test-{secrets.token_hex(4)}"
    try:
        code = main(
            Options(
                duration=1.0,
                clients=8,
                items=300,
                rounds=1,
                photo_clients=1,
                chain_seconds=0.5,
                warmup_seconds=0.5,
                data_dir=home,
            )
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    # The cold pass scans each of the 300 tags exactly once before the measured rounds.
    assert any(line.startswith("cold   (every tag's first scan): 300 requests") for line in lines)
    assert any(line.startswith("floor  (one indexed SELECT): ") for line in lines), out
    assert any(line.startswith("mix    (7 clients, 1 in 20 a hand-off scan): ") for line in lines)
    # A prop master records inspections beside the mix; each one answered is stored.
    (inspections,) = [line for line in lines if line.startswith("inspections: ")]
    assert inspections.endswith("stored (all recorded)"), inspections
    assert int(inspections.split()[1].replace(",", "")) > 0, inspections
    assert any(line.startswith("verify (POST /api/v1/verify): ") for line in lines), out
    # Both placements are measured in the same run; the targets' one is printed first.
    # (Shared cores alone where the machine cannot place them: api/bench_cores.py says
    # why, and tests/api/test_bench_cores.py covers the placements themselves.)
    names = [line.split(" (")[0] for line in lines if line.startswith("placement: ")]
    assert names in (
        ["placement: own cores", "placement: shared cores"],
        ["placement: shared cores"],
    ), out
    if len(names) == 2:
        assert any(line.startswith("  shared cores: throughput ratio ") for line in lines), out
        assert "photo and mix phases: own cores, the servers' threads free" in lines, out
    assert any("(all recorded); chain of" in line and " verifies " in line for line in lines), out
    assert lines[-1].startswith("ratio: ") and float(lines[-1].split()[1]) > 0, out
    (targets,) = [line for line in lines if line.startswith("targets: ")]
    assert "record met" in targets, targets  # every 2xx verify stored and chained
