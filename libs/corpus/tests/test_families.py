"""The evaluation families make what they claim: the payload sits at the byte range the manifest
records, the Ogg file has two logical streams, the tag frames hold what they say, the FLAC's
count is understated, and the good renditions decode."""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioval_corpus import family_threats as ft
from audioval_corpus import threats, tools
from audioval_corpus.plan.families import build_families, plan_families
from audioval_corpus.renditions import RENDITION_KINDS, render
from audioval_corpus.specs import RenditionSpec

RATE = 22050
needs_tools = pytest.mark.skipif(
    bool(tools.missing_tools()), reason=f"missing tools: {tools.missing_tools()}"
)


def _music(seconds: float = 4.0, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Two tones and a little noise, float (frames, channels): the stand-in for a real clip."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    x = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 331 * t)
    return x[:, None] + 0.01 * rng.standard_normal((t.size, channels))


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24"])
def test_spliced_payload_is_at_its_recorded_byte_range(subtype: str, channels: int) -> None:
    x = _music(channels=channels)[:-1]  # an odd frame count: 8/24-bit data chunks need a pad byte
    payload = bytes(range(256)) * 301
    placed = ft.splice_into_wav(x, RATE, subtype, payload, at=x.shape[0] // 2)
    start, end = placed.byte_range or (0, 0)
    assert placed.data[start:end] == payload[: end - start]
    assert end - start >= len(payload) - 6  # cut to whole frames only
    data = next(c for c in threats.riff_chunks(placed.data) if c.chunk_id == b"data")
    assert data.end == len(placed.data)  # every byte in a chunk, the pad byte where one is due
    assert struct.unpack_from("<I", placed.data, 4)[0] == len(placed.data) - 8
    assert placed.time_range is not None and placed.time_range[0] == pytest.approx(2.0, abs=1e-3)


def test_held_steps_repeat_each_byte_and_ramps_sort_each_block() -> None:
    steps = ft.held_steps(b"\x01\x02\x03", 4, 12)
    assert steps.tolist() == [1] * 4 + [2] * 4 + [3] * 4
    ramp = ft.sorted_ramp(
        bytes(np.random.default_rng(0).integers(0, 256, 64, dtype=np.uint8)), 16, True
    )
    assert np.all(np.diff(ramp[:16].astype(int)) >= 0)
    assert np.all(np.diff(ramp[16:32].astype(int)) <= 0)


def test_low_bit_embedding_writes_the_payload_bits_into_bit_zero() -> None:
    values = np.arange(-4000, 4000, dtype=np.int64).reshape(-1, 2) << 8  # 24-bit, padded
    payload = b"\xa5\x0f" * 100
    out = ft.embed_low_bit(values, payload, 0.5)
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), bitorder="little")
    count = values.size // 2
    assert np.array_equal(out.reshape(-1)[:count] & 1, np.resize(bits, count))
    assert np.array_equal(out.reshape(-1)[count:], values.reshape(-1)[count:])
    assert np.all(np.abs(out - values) <= 1)


def _packets(ogg: bytes, serial: int) -> list[bytes]:
    """The packets of one logical stream, read back page by page (mutagen checks the layout)."""
    from mutagen.ogg import OggPage

    buf, pages = io.BytesIO(ogg), []
    while buf.tell() < len(ogg):
        page = OggPage(buf)  # type: ignore[no-untyped-call]
        if page.serial == serial:
            pages.append(page)
    packets: list[bytes] = OggPage.to_packets(pages)  # type: ignore[no-untyped-call]
    return packets


@needs_tools
@pytest.mark.parametrize("mode", ["multiplexed", "chained"])
def test_ogg_with_a_second_stream_has_two_logical_streams_and_still_decodes(mode: str) -> None:
    ogg = tools.oggenc_encode(_music(), RATE, serial=7)
    payload = np.random.default_rng(1).bytes(20000)
    placed = ft.add_ogg_stream(ogg, payload, mode=mode, codec="unknown", serial=99)  # type: ignore[arg-type]
    assert ft.ogg_serials(ogg) == [7]
    assert ft.ogg_serials(placed.data) == [7, 99]
    start, end = placed.byte_range or (0, 0)
    assert placed.data[start : start + 4] == b"OggS"
    assert (
        b"".join(_packets(placed.data[start:end], 99)) == ft.OGG_STREAM_CODECS["unknown"] + payload
    )
    y, rate = sf.read(io.BytesIO(placed.data))
    assert rate == RATE and y.shape[0] > RATE


@needs_tools
def test_id3_and_apev2_items_hold_the_payload_they_claim() -> None:
    from mutagen.apev2 import APEv2
    from mutagen.id3 import ID3

    mp3 = tools.lame_encode(_music(), RATE)
    payload = np.random.default_rng(2).bytes(100 << 10)
    placed = ft.add_id3_binary(mp3, payload, how="priv_average_level")
    frames = ID3(io.BytesIO(placed.data)).getall("PRIV")  # type: ignore[no-untyped-call]
    assert [(f.owner, len(f.data)) for f in frames] == [("AverageLevel", 100 << 10)]
    start, end = placed.byte_range or (0, 0)
    assert placed.data[start:end] == payload
    ape = ft.add_apev2_binary(mp3, payload[:5000], key="Cover Art (Front)")
    item = APEv2(io.BytesIO(ape.data))["Cover Art (Front)"]  # type: ignore[no-untyped-call]
    assert item.value == b"cover.jpg\x00" + payload[:5000]


def test_list_info_field_is_the_base64_of_the_binary() -> None:
    wav = tools.wav_bytes(_music(), RATE)
    binary = b"\x7fELF" + bytes(range(256)) * 40
    placed = ft.list_info_base64(wav, binary, field=b"IART")
    start, end = placed.byte_range or (0, 0)
    assert base64.b64decode(placed.data[start:end]) == binary
    assert placed.data[start - 8 : start - 4] == b"IART"


@needs_tools
def test_understated_flac_keeps_every_frame_but_claims_fewer_samples() -> None:
    x = _music(3.0)
    flac = tools.flac_encode(x, RATE)
    claimed = 40001  # off the 4096-sample frame boundary
    out = ft.understate_flac_count(flac, claimed)
    assert tools.metaflac_total_samples(flac) == x.shape[0]
    assert tools.metaflac_total_samples(out) == claimed
    assert len(out) == len(flac)


def _fake_corpus(root: Path) -> Path:
    """A corpus of two good held-out clips from two packages, with its manifest."""
    rows = []
    for i, package in enumerate(("pkg-a", "pkg-b")):
        rel = f"good/real/real-{i:04d}.wav"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, _music(6.0, seed=i), RATE, subtype="PCM_16")
        rows.append(
            {"path": rel, "label": "good", "split": "heldout", "format": "wav", "seconds": 6.0,
             "package": package, "source": f"{package}:song{i}", "threat_class": "real"}
        )  # fmt: skip
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@needs_tools
def test_built_families_record_where_the_payload_is(tmp_path: Path) -> None:
    corpus = _fake_corpus(tmp_path / "corpus")
    out = tmp_path / "families"
    families = ["data segment spliced into a track (5-20%)", "second Ogg stream, chained"]
    cases = plan_families(corpus, out, per_family=2, renditions=0, families=families)
    rows = build_families(cases, out, jobs=1, log=lambda _: None)
    assert len(rows) == 4
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["family"] for r in manifest} == set(families)
    for row in manifest:
        assert row["split"] == "heldout" and row["parent"].startswith("good/real/")
        data = (out / row["path"]).read_bytes()
        start, end = row["byte_range"]
        if row["family"].startswith("data segment"):
            payload_file = Path(row["spec"]["payload"])
            assert data[start : start + 64] == payload_file.read_bytes()[:64]
            chunk = next(c for c in threats.riff_chunks(data) if c.chunk_id == b"data")
            assert 0.04 <= (end - start) / chunk.size <= 0.21
            assert row["time_range"][0] == pytest.approx(3.0, abs=1e-3)
        else:
            assert len(ft.ogg_serials(data)) == 2
            assert data[start : start + 4] == b"OggS"
    # a rebuild makes nothing new and gives the same manifest
    again = build_families(
        plan_families(corpus, out, per_family=2, renditions=0, families=families), out
    )
    assert again == rows


@needs_tools
@pytest.mark.parametrize("kind", RENDITION_KINDS)
def test_every_rendition_kind_decodes_as_sound(kind: str) -> None:
    fmt = "ulaw8k" if kind == "telephone" else "wav16"
    data = render(RenditionSpec(kind=kind, seed=3, seconds=2.0, fmt=fmt))  # type: ignore[arg-type]
    y, rate = sf.read(io.BytesIO(data), always_2d=True)
    assert y.shape[0] >= rate  # at least a second of it
    assert 0.05 < float(np.max(np.abs(y))) <= 1.0
    if kind == "telephone":
        assert rate == 8000 and sf.info(io.BytesIO(data)).subtype == "ULAW"


@needs_tools
def test_silent_flac_of_unknown_length_decodes_to_every_frame_it_holds(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "silent.flac"
    path.write_bytes(ft.silent_flac(30.0, 44100, 2))
    assert tools.metaflac_total_samples(path.read_bytes()) == 0
    subprocess.run(["flac", "--test", "--silent", str(path)], check=True)  # every CRC right
    pcm = subprocess.run(
        ["flac", "-d", "-c", "--force-raw-format", "--endian=little", "--sign=signed", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    assert len(pcm) == (30 * 44100 // 4096) * 4096 * 2 * 2
    assert not any(pcm)
    ten_hours = ft.silent_flac(36000.0, 8000, 1)
    assert len(ten_hours) < 2 << 20  # ten hours in a few bytes a frame
