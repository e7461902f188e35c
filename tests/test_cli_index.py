"""`audioval index add/match/delete` as a user runs them: the console script, in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from audioval_corpus.samples import synth_notes

pytestmark = pytest.mark.slow  # each command is a fresh process importing the CLI

AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))
RATE = 44100


def run(*args: str) -> subprocess.CompletedProcess[str]:
    assert AUDIOVAL, "the audioval console script is installed by uv sync"
    return subprocess.run([AUDIOVAL, *args], capture_output=True, text=True, timeout=300)


def song(seconds: float, seed: int) -> npt.NDArray[np.float32]:
    """Music-like stereo: the notes of :func:`synth_notes`, the right channel 0.9 of the left."""
    mono = synth_notes(seconds, seed=seed, rate=RATE)
    return np.stack((mono, 0.9 * mono), axis=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("index-inputs")
    bad, good = song(40.0, 1), song(40.0, 2)
    paths = {
        "bad": root / "bad.flac",
        "good": root / "good.wav",
        "copy": root / "bad-copy-fast.wav",
        "other": root / "other.wav",
        "garbage": root / "garbage.mp3",
    }
    sf.write(paths["bad"], bad, RATE)
    sf.write(paths["good"], good, RATE, subtype="PCM_16")
    # 10 s of the bad track from 12 s, played 3 % fast and 6 dB quieter.
    fast = resample_poly(bad[12 * RATE : 22 * RATE], 100, 103, axis=0) * 0.5
    sf.write(paths["copy"], fast.astype(np.float32), RATE, subtype="PCM_16")
    sf.write(paths["other"], song(12.0, 3), RATE, subtype="PCM_16")
    paths["garbage"].write_bytes(np.random.default_rng(0).bytes(5000))
    return paths


def test_add_then_match_follow_the_contract(files: dict[str, Path], tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    added = run("index", "add", "--index", index, "--list", "known-bad", str(files["bad"]))
    assert added.returncode == 0, added.stderr
    (bad,) = [json.loads(line) for line in added.stdout.splitlines()]
    assert bad["path"] == str(files["bad"]) and bad["list"] == "known-bad"
    assert isinstance(bad["ref"], int)
    added = run("index", "add", "--index", index, str(files["good"]))
    (good,) = [json.loads(line) for line in added.stdout.splitlines()]
    assert good["list"] == "catalogue" and good["ref"] != bad["ref"]

    matched = run(
        "index",
        "match",
        "--index",
        index,
        "--format",
        "jsonl",
        str(files["copy"]),
        str(files["other"]),
    )
    assert matched.returncode == 0, matched.stderr
    copy, other = [json.loads(line) for line in matched.stdout.splitlines()]
    assert copy["path"] == str(files["copy"])
    best = copy["matches"][0]
    assert {"ref", "list", "score", "query_start_s", "ref_start_s", "matched_s"} <= set(best)
    assert (best["ref"], best["list"]) == (bad["ref"], "known-bad")
    assert 0 < best["score"] <= 1
    assert abs(best["ref_start_s"] - (12.0 + best["query_start_s"] * 1.03)) < 0.5
    assert best["scale"] == pytest.approx(1.03, abs=0.012)
    assert other == {"path": str(files["other"]), "matches": []}


def test_deleting_a_reference_stops_its_matches(files: dict[str, Path], tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    added = run("index", "add", "--index", index, str(files["bad"]))
    ref = json.loads(added.stdout)["ref"]
    deleted = run("index", "delete", "--index", index, str(ref))
    assert json.loads(deleted.stdout) == {"ref": ref, "deleted": True}
    matched = run("index", "match", "--index", index, str(files["copy"]))
    assert json.loads(matched.stdout)["matches"] == []


def test_unreadable_files_are_reported_not_raised(files: dict[str, Path], tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    missing = tmp_path / "nope.wav"
    added = run(
        "index", "add", "--index", index, str(files["garbage"]), str(missing), str(files["good"])
    )
    assert added.returncode == 1
    assert "Traceback" not in added.stderr
    lines = [json.loads(line) for line in added.stdout.splitlines()]
    assert [Path(obj["path"]).name for obj in lines] == ["garbage.mp3", "nope.wav", "good.wav"]
    assert "error" in lines[0] and "error" in lines[1] and "ref" in lines[2]
    matched = run("index", "match", "--index", index, str(files["garbage"]))
    assert matched.returncode == 1 and "Traceback" not in matched.stderr
    assert json.loads(matched.stdout)["matches"] == []


def test_an_index_uri_of_another_scheme_is_refused_with_a_message() -> None:
    # grpc://host:port is a running stack's index (tests/test_cli_index_remote.py).
    result = run("index", "match", "--index", "s3://bucket/index", "x.wav")
    assert result.returncode != 0
    assert "not supported yet" in result.stderr and "Traceback" not in result.stderr
