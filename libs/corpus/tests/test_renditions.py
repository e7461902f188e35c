"""The good renditions of issue #17 past the first five kinds: converter chains store what they
name, dither and clipping do what a converter does, every kind decodes, the same seed makes the
same bytes, and the planner adds kinds and recordings without renaming a cached file."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioval_corpus import tools
from audioval_corpus.conversion import apply_chain, draw_chain
from audioval_corpus.plan.families import FIXED_FORMAT_RENDITIONS, plan_families
from audioval_corpus.renditions import (
    CHAIN_KINDS,
    RECORDING_PACKAGES,
    RENDITION_KINDS,
    chain_options,
    render,
)
from audioval_corpus.seeding import keyed_rng
from audioval_corpus.specs import Chain, RenditionSpec, identity

needs_tools = pytest.mark.skipif(
    bool(tools.missing_tools()), reason=f"missing tools: {tools.missing_tools()}"
)
RATE = 22050


def _tone(seconds: float = 0.25, amplitude: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = amplitude * np.sin(2 * np.pi * 441 * t)
    return np.repeat(x[:, None], channels, axis=1)


def _chain(**changes: object) -> Chain:
    base = Chain(
        rate=RATE,
        channels=1,
        level_db=-6.0,
        master="none",
        drive_db=0.0,
        via=None,
        store="wav16",
        setting=None,
        dither="none",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@needs_tools
@pytest.mark.parametrize(
    ("store", "subtype", "ext"),
    [
        ("wav_u8", "PCM_U8", "wav"),
        ("wav16", "PCM_16", "wav"),
        ("wav24", "PCM_24", "wav"),
        ("wav_float", "FLOAT", "wav"),
        ("flac16", "PCM_16", "flac"),
        ("flac24", "PCM_24", "flac"),
    ],
)
def test_chain_stores_the_width_rate_and_channels_it_names(
    store: str, subtype: str, ext: str
) -> None:
    chain = _chain(store=store, rate=48000, channels=2, setting="5" if ext == "flac" else None)
    data, got_ext = apply_chain(_tone(), RATE, chain)
    info = sf.info(io.BytesIO(data))
    assert got_ext == ext
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, subtype)
    assert abs(info.duration - 0.25) < 0.01


@needs_tools
@pytest.mark.parametrize(("store", "setting"), [("mp3", "V5"), ("mp3", "32"), ("ogg", "-1")])
def test_lossy_stores_decode_to_the_same_length(store: str, setting: str) -> None:
    data, ext = apply_chain(_tone(1.0), RATE, _chain(store=store, setting=setting, rate=44100))
    y, rate = sf.read(io.BytesIO(data), always_2d=True)
    assert ext == store
    assert abs(y.shape[0] / rate - 1.0) < 0.1  # an MP3's encoder delay and padding, at most
    assert 0.2 < float(np.max(np.abs(y))) < 1.0


@needs_tools
def test_level_sets_the_peak_and_quiet_masters_stay_quiet() -> None:
    data, _ = apply_chain(_tone(), RATE, _chain(level_db=-40.0, store="wav24"))
    y, _ = sf.read(io.BytesIO(data))
    assert 20 * np.log10(float(np.max(np.abs(y)))) == pytest.approx(-40.0, abs=0.1)


@needs_tools
def test_truncation_without_dither_leaves_the_tone_exactly_quantised_and_dither_adds_noise() -> (
    None
):
    x = _tone(amplitude=1.0)
    lsb = 1 / 32768
    level = 20 * np.log10(20 * lsb)  # a tone 20 steps high
    plain, _ = apply_chain(x, RATE, _chain(level_db=level, dither="none"))
    dithered, _ = apply_chain(x, RATE, _chain(level_db=level, dither="tpdf"))
    exact = np.round(x[:, 0] / np.max(np.abs(x)) * 20)
    y_plain = sf.read(io.BytesIO(plain), dtype="int16")[0].astype(np.float64)
    y_dith = sf.read(io.BytesIO(dithered), dtype="int16")[0].astype(np.float64)
    assert np.max(np.abs(y_plain - exact)) <= 1  # rounding or truncation, nothing more
    assert np.std(y_dith - exact) > 0.3  # TPDF dither: about half a step of noise
    assert np.max(np.abs(y_plain)) <= 20


@needs_tools
def test_hard_clipped_master_holds_full_scale_and_the_limiter_does_not() -> None:
    x = _tone(amplitude=1.0)
    clipped, _ = apply_chain(x, RATE, _chain(level_db=-1.0, master="hard_clip", drive_db=9.0))
    limited, _ = apply_chain(x, RATE, _chain(level_db=-1.0, master="limit", drive_db=9.0))
    y_clip = sf.read(io.BytesIO(clipped), dtype="int16")[0]
    y_lim = sf.read(io.BytesIO(limited), dtype="int16")[0]
    assert np.mean(np.abs(y_clip.astype(np.int32)) >= 32767) > 0.3
    assert np.mean(np.abs(y_lim.astype(np.int32)) >= 32767) < 0.01


@needs_tools
def test_a_lossy_round_trip_comes_back_at_the_chain_rate() -> None:
    data, _ = apply_chain(_tone(1.0), RATE, _chain(rate=96000, via="mp3-64", store="wav24"))
    info = sf.info(io.BytesIO(data))
    assert (info.samplerate, info.subtype) == (96000, "PCM_24")


def test_chains_are_drawn_alike_from_one_seed_and_quiet_kinds_keep_their_level() -> None:
    assert draw_chain(keyed_rng(0, "chain", 3)) == draw_chain(keyed_rng(0, "chain", 3))
    room = RenditionSpec(kind="room_tone", seed=4, seconds=1.0, fmt="chain")
    for i in range(20):
        chain = draw_chain(keyed_rng(0, "room", i), **chain_options(room))  # type: ignore[arg-type]
        assert -70.0 <= chain.level_db <= -45.0 and chain.master == "none"


def _spec(kind: str, store: str = "wav16", seed: int = 3) -> RenditionSpec:
    spec = RenditionSpec(kind=kind, seed=seed, seconds=0.4, fmt="chain")  # type: ignore[arg-type]
    return dataclasses.replace(spec, chain=_chain(rate=16000, store=store, dither="shaped"))


@needs_tools
@pytest.mark.parametrize("kind", CHAIN_KINDS + RENDITION_KINDS)
def test_every_chained_kind_decodes_and_one_seed_makes_the_same_bytes(kind: str) -> None:
    data = render(_spec(kind))
    y, rate = sf.read(io.BytesIO(data), always_2d=True)
    assert rate == 16000 and y.shape[0] >= 0.3 * rate
    assert 0.0 < float(np.max(np.abs(y))) <= 1.0
    assert render(_spec(kind)) == data


@needs_tools
def test_a_recording_rendition_reads_its_stretch_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    sf.write(path, _tone(2.0, channels=2), RATE)
    spec = dataclasses.replace(_spec("recording"), source="pkg:in.wav", start=1.0, seconds=0.5)
    y, rate = sf.read(io.BytesIO(render(spec, str(path))))
    assert rate == 16000 and y.shape[0] == 8000
    with pytest.raises(ValueError, match="needs its file"):
        render(spec)


def _fake_corpus_with_packages(root: Path) -> Path:
    """A corpus of one good clip, and a package cache holding every recording package (one of
    them with two recordings), so nothing is fetched."""
    corpus = root / "corpus"
    corpus.mkdir()
    sf.write(corpus / "clip.wav", _tone(4.0), RATE)
    row = '{"path": "clip.wav", "label": "good", "split": "heldout", "format": "wav", '
    row += '"seconds": 4.0, "source": "pkg:clip", "threat_class": "real"}\n'
    (corpus / "manifest.jsonl").write_text(row)
    for package in RECORDING_PACKAGES:
        (root / "debs" / package).mkdir(parents=True)
        (root / "debs" / package / ".extracted").write_text("fake\n")
    sounds = root / "debs" / "oxygen-sounds" / "usr" / "share" / "sounds"
    sounds.mkdir(parents=True)
    sf.write(sounds / "a.wav", _tone(3.0), RATE)
    sf.write(sounds / "b.wav", _tone(0.5), RATE)
    return corpus


def test_recordings_are_planned_from_the_package_cache_within_their_files(tmp_path: Path) -> None:
    corpus = _fake_corpus_with_packages(tmp_path)
    cases = plan_families(
        corpus, tmp_path / "out", per_family=0, renditions=0, recordings=6, package_cache=tmp_path
    )
    assert len(cases) == 6
    assert all(c.family == "good rendition: debian recording" for c in cases)
    for case in cases:
        spec = case.spec
        assert isinstance(spec, RenditionSpec) and spec.chain is not None
        assert case.source == spec.source and spec.source.startswith("oxygen-sounds:")
        length = 3.0 if spec.source.endswith("a.wav") else 0.5
        assert (spec.start or 0.0) >= 0 and (spec.start or 0.0) + spec.seconds <= length + 1e-3
    again = plan_families(
        corpus, tmp_path / "out", per_family=0, renditions=0, recordings=6, package_cache=tmp_path
    )
    assert [c.rel for c in again] == [c.rel for c in cases]


def test_more_renditions_keep_the_first_files_names_and_chain_the_rest(tmp_path: Path) -> None:
    corpus = _fake_corpus_with_packages(tmp_path)
    few = plan_families(corpus, tmp_path / "out", per_family=0, renditions=2)
    many = plan_families(
        corpus, tmp_path / "out", per_family=0, renditions=FIXED_FORMAT_RENDITIONS + 1
    )
    names = {c.rel for c in many}
    assert {c.rel for c in few} <= names
    for case in many:
        spec = case.spec
        assert isinstance(spec, RenditionSpec)
        index = int(case.rel.rsplit("-", 2)[1])
        fixed = spec.kind in RENDITION_KINDS and index < FIXED_FORMAT_RENDITIONS
        assert ("chain" in identity(spec)) is not fixed
    kinds = {c.spec.kind for c in many if isinstance(c.spec, RenditionSpec)}
    assert kinds == set(RENDITION_KINDS) | set(CHAIN_KINDS)


@needs_tools
def test_a_drum_machine_clip_shorter_than_a_step_still_sounds() -> None:
    spec = dataclasses.replace(_spec("drum_machine"), seconds=0.05)
    y, _ = sf.read(io.BytesIO(render(spec)))
    assert float(np.max(np.abs(y))) > 0.1
