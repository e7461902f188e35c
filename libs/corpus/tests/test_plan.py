"""The plan: typed specs name files as the builder always has, the split follows the source, and
nothing about the plan depends on where the checkout (and its virtualenv) lives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioval_corpus.debian import AudioSource
from audioval_corpus.machine_files import (
    MachineFiles,
    file_group,
    machine_text,
    portable_name,
    site_packages,
)
from audioval_corpus.plan import Item, StreamInfo, plan_corpus
from audioval_corpus.seeding import spec_digest
from audioval_corpus.specs import ClipSpec, LsbSpec, Pad, XorSpec, identity


def test_clip_identity_leaves_out_unset_options_and_writes_paths_as_text() -> None:
    spec = ClipSpec(
        source=Path("debs/a/song.ogg"),
        start=1.5,
        seconds=4.0,
        rate=44100,
        channels=2,
        fmt="ogg",
        gain_db=-3.0,
        pad=None,
        encoder="oggenc",
        quality=5,
        serial=7,
    )
    assert identity(spec) == {
        "source": "debs/a/song.ogg",
        "start": 1.5,
        "seconds": 4.0,
        "rate": 44100,
        "channels": 2,
        "fmt": "ogg",
        "gain_db": -3.0,
        "pad": None,
        "encoder": "oggenc",
        "quality": 5,
        "serial": 7,
    }
    padded = identity(dataclasses.replace(spec, pad=Pad(1.0, 0.5, None)))
    assert padded["pad"] == {"lead": 1.0, "trail": 0.5, "noise_dbfs": None}


def test_a_missing_file_is_named_none_as_the_builder_always_wrote_it() -> None:
    xor = XorSpec(file=None, size=10, order="b64_then_xor", rate=44100, encoding="s16", seed=1)
    lsb = LsbSpec("zip", 0.5, 1, False, "lsb_first", True, 3)
    assert identity(xor)["file"] == "None"
    assert identity(lsb)["elf"] == "None"
    assert xor.container == "wav" and xor.channels is None


def test_manifest_fields_of_an_unprobed_original_have_no_stream_fields() -> None:
    item = Item("good/real/x.mp3", "good", "real", "mp3", "pkg:x", "g", "original", bytes, "train",
                stream=None, package="pkg")  # fmt: skip
    fields = item.manifest_fields()
    assert fields["package"] == "pkg"
    assert not {"sample_rate", "channels", "subtype", "seconds"} & set(fields)
    probed = Item("bad/x/y.wav", "bad", "x", "wav", "s", "g", "v", bytes, "train",
                  stream=StreamInfo(8000, None, "PCM_16"))  # fmt: skip
    assert probed.manifest_fields()["channels"] is None
    assert "package" not in probed.manifest_fields()


def test_virtualenv_files_are_grouped_the_same_in_every_checkout() -> None:
    site = site_packages()
    assert file_group(site / "numpy" / "__init__.py") == "file:site-packages/numpy/__init__.py"
    assert file_group(Path("/usr/bin/ls")) == "file:/usr/bin/ls"
    assert portable_name(site / "numpy" / "core.so") == "site-packages/numpy/core.so"


def test_corpus_file_names_do_not_depend_on_where_the_virtualenv_lives() -> None:
    site = site_packages()
    inside = spec_digest({"file": str(site / "numpy" / "core.so"), "size": 3})
    assert inside == spec_digest({"file": "site-packages/numpy/core.so", "size": 3})
    assert inside != spec_digest({"file": "/elsewhere/numpy/core.so", "size": 3})


def test_a_virtualenv_record_is_read_without_the_lines_that_hash_its_console_scripts() -> None:
    records = [
        r
        for r in sorted(site_packages().glob("*.dist-info/RECORD"))
        if "\n../" in r.read_text(errors="replace")
    ]
    if not records:
        pytest.skip("no package of this virtualenv installs a console script")
    text = machine_text(records[0])
    raw = records[0].read_text(errors="replace")
    assert not any(line.startswith("../") for line in text.splitlines())
    assert [line for line in raw.splitlines() if not line.startswith("../")] == text.splitlines()


def test_a_record_outside_the_virtualenv_is_read_as_it_is(tmp_path: Path) -> None:
    record = tmp_path / "RECORD"
    record.write_text("a.py,sha256=x,1\n../../../bin/a,sha256=y,2\n")
    assert machine_text(record) == record.read_text()


def _sources(tmp_path: Path) -> list[AudioSource]:
    rng = np.random.default_rng(0)
    out = []
    for package in ("pkg-a", "pkg-b"):
        for group in range(4):
            for take in range(2):
                path = tmp_path / package / f"song{group}-{take}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                x = 0.3 * np.sin(np.arange(44100 * 2) * 0.05) + 0.01 * rng.standard_normal(88200)
                sf.write(path, x.astype(np.float32), 44100, subtype="PCM_16")
                out.append(AudioSource(path, package, path.name, f"{package}:song{group}", "wav"))
    return out


def _machine(tmp_path: Path) -> MachineFiles:
    files = {}
    for kind in ("text", "binary", "archive"):
        files[kind] = []
        for i in range(6):
            path = tmp_path / "machine" / kind / f"{i}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(np.random.default_rng(i).bytes(4096 * (i + 1)))
            files[kind].append(path)
    return MachineFiles(files["text"], files["binary"], files["archive"], images=[])


def test_the_plan_is_a_function_of_the_seed_and_keeps_every_source_in_one_split(
    tmp_path: Path,
) -> None:
    sources = _sources(tmp_path)

    def plan(seed: int) -> list[Item]:
        return list(
            plan_corpus(
                tmp_path / "out",
                scale_name="small",
                seed=seed,
                sources=sources,
                speech=[],
                machine=_machine(tmp_path),
            ).items
        )

    items = plan(0)
    assert [i.manifest_fields() for i in items] == [i.manifest_fields() for i in plan(0)]
    assert [i.rel for i in items] != [i.rel for i in plan(1)]
    assert len({i.rel for i in items}) == len(items)
    by_rel = {i.rel: i for i in items}
    splits_of_group: dict[str, set[str]] = {}
    for item in items:
        splits_of_group.setdefault(item.group, set()).add(item.split)
        if item.parent is not None:
            parent = by_rel[item.parent]
            assert (item.split, item.group, item.format) == (
                parent.split,
                parent.group,
                parent.format,
            )
    assert all(len(splits) == 1 for splits in splits_of_group.values())
    assert {i.split for i in items if i.label == "good"} == {"train", "heldout"}
