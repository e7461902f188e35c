"""`audioval validate` as a user runs it: the console script, in a subprocess."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import audioval_cli.validate as validate_module
from audioval_corpus.samples import synth_notes

_real_judge = validate_module._judge

AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert AUDIOVAL, "the audioval console script is installed by uv sync"
    return subprocess.run([AUDIOVAL, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    t = np.arange(44100 * 3) / 44100
    notes = sum(np.sin(2 * np.pi * f * t) * np.exp(-((t * 3) % 1) * 4) for f in (220, 277, 330))
    song = (0.2 * notes / np.abs(notes).max() + rng.normal(0, 3e-4, t.size)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([song, song * 0.9], axis=1), 44100, format="WAV", subtype="PCM_16")
    paths = {
        "song": root / "song.wav",
        "elf": root / "payload.wav",
        "garbage": root / "garbage.mp3",
        "empty": root / "empty.flac",
    }
    paths["song"].write_bytes(buf.getvalue())
    paths["elf"].write_bytes(buf.getvalue() + b"\x7fELF\x02\x01\x01" + rng.bytes(5000))
    paths["garbage"].write_bytes(rng.bytes(10_000))
    paths["empty"].write_bytes(b"")
    return paths


def test_help_lists_the_subcommands_that_exist() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "validate" in result.stdout


def test_jsonl_has_one_object_per_input_with_the_contract_fields(
    files: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.wav"
    result = run("validate", "--format", "jsonl", *map(str, files.values()), str(missing))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_path = {Path(obj["path"]).name: obj for obj in lines}
    assert len(lines) == len(files) + 1
    for obj in lines:
        assert obj["verdict"] in {"accept", "review", "reject"}
        assert obj["label"] in {"real", "mock"}
        assert 0.0 <= obj["score"] <= 1.0
        assert all("code" in f for f in obj["findings"])
    assert by_path["song.wav"]["verdict"] == "accept"
    assert by_path["payload.wav"]["verdict"] == "reject"
    assert by_path["garbage.mp3"]["verdict"] == "reject"
    assert {f["code"] for f in by_path["empty.flac"]["findings"]} == {"input.empty"}
    assert {f["code"] for f in by_path["nope.wav"]["findings"]} == {"input.unreadable"}


def test_directories_are_walked(files: dict[str, Path]) -> None:
    result = run("validate", "--jobs", "1", str(files["song"].parent))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == len(files)


def test_table_format_prints_a_row_per_file(files: dict[str, Path]) -> None:
    result = run("validate", "--format", "table", str(files["song"]), str(files["elf"]))
    assert result.returncode == 0
    rows = result.stdout.splitlines()
    assert rows[0].startswith("accept") and rows[1].startswith("reject")
    assert "container.embedded_executable" in rows[1]


def test_a_bad_option_is_a_usage_error_without_a_traceback(files: dict[str, Path]) -> None:
    result = run("validate", "--format", "xml", str(files["song"]))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "xml" in result.stderr


@pytest.mark.slow
def test_validate_with_an_index_rejects_a_reencoded_known_bad_track(tmp_path: Path) -> None:
    from scipy.signal import resample_poly

    bad = synth_notes(30.0, seed=21)
    sf.write(tmp_path / "bad.wav", bad, 44100, subtype="PCM_16")
    # Re-encoded: 6 dB quieter, 15 s from 8 s in, resampled to 32 kHz, as FLAC.
    copy = resample_poly(bad[8 * 44100 : 23 * 44100] * 0.5, 320, 441)
    sf.write(tmp_path / "renamed.flac", copy.astype(np.float32), 32000)
    sf.write(tmp_path / "other.wav", synth_notes(15.0, seed=22), 44100, subtype="PCM_16")
    index = str(tmp_path / "index")
    added = run("index", "add", "--index", index, "--list", "known-bad", str(tmp_path / "bad.wav"))
    assert added.returncode == 0, added.stderr
    ref = json.loads(added.stdout)["ref"]

    result = run(
        "validate", "--index", index, str(tmp_path / "renamed.flac"), str(tmp_path / "other.wav")
    )
    assert result.returncode == 0, result.stderr
    copy_doc, other_doc = (json.loads(line) for line in result.stdout.splitlines())
    assert copy_doc["verdict"] == "reject" and copy_doc["label"] == "mock"
    (hit,) = [f for f in copy_doc["findings"] if f["code"] == "fingerprint.known_bad"]
    assert hit["severity"] == "malicious"
    assert hit["evidence"]["ref"] == ref and hit["evidence"]["list"] == "known-bad"
    assert hit["evidence"]["ref_start_s"] == pytest.approx(
        8.0 + hit["evidence"]["query_start_s"], abs=0.5
    )
    assert other_doc["verdict"] == "accept"
    assert not any(f["code"].startswith("fingerprint.") for f in other_doc["findings"])

    plain = run("validate", str(tmp_path / "renamed.flac"))
    assert not any(
        f["code"].startswith("fingerprint.") for f in json.loads(plain.stdout)["findings"]
    )


def test_validate_with_an_unusable_index_is_a_usage_error(files: dict[str, Path]) -> None:
    result = run("validate", "--index", "grpc://127.0.0.1:1", str(files["song"]))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "not supported" in result.stderr


def _judge_or_die(path: str) -> tuple[dict[str, object], str | None]:
    """The CLI's worker job, except that a file named poison* kills its worker process the way
    a crash in native code or the OOM killer would (no Python exception, no cleanup)."""
    if Path(path).name.startswith("poison"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_judge(path)


def test_a_worker_that_dies_loses_no_file_and_names_the_one_that_killed_it(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process (CliRunner) so the forked workers inherit the patched job.
    poison = tmp_path / "poison.wav"
    shutil.copy(files["song"], poison)
    inputs = [files["song"], files["elf"], poison, files["garbage"], files["song"], files["empty"]]
    monkeypatch.setattr(validate_module, "_judge", _judge_or_die)
    result = CliRunner().invoke(
        validate_module.validate_command, ["--jobs", "2", *map(str, inputs)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(p) for p in inputs]
    by_codes = [{f["code"] for f in line["findings"]} for line in lines]
    assert by_codes[2] == {"validator.failed"}
    assert lines[2]["verdict"] == "review"
    # its neighbours, caught in the same broken pool, were judged again and judged for real
    assert lines[0]["verdict"] == lines[4]["verdict"] == "accept"
    assert lines[1]["verdict"] == "reject" and lines[3]["verdict"] == "reject"
    assert not any("validator.failed" in codes for i, codes in enumerate(by_codes) if i != 2)
