"""The corpus' bad-class generators make valid files with the property each claims."""

from __future__ import annotations

import base64
import io
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from audiomodel.payload import PayloadKind, find_signatures, identify_payload
from audioval_corpus import threats
from audioval_corpus.debian import sniff_audio_format, sniff_renderable_format
from audioval_corpus.plan.splits import assign_splits

RATE = 22050


def _tone(seconds: float = 1.0, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A 440 Hz tone with a little noise, int16 (frames, channels): the stand-in for real audio."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    x = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.01 * rng.standard_normal((t.size, channels))
    return np.round(x * 32767).astype(np.int16)


@pytest.fixture(scope="module")
def tone() -> np.ndarray:
    return _tone()


@pytest.fixture(scope="module")
def wav(tone: np.ndarray) -> bytes:
    return threats.encode_pcm(tone, sample_rate=RATE, container="wav", subtype="PCM_16")


@pytest.fixture(scope="module")
def flac(tone: np.ndarray) -> bytes:
    return threats.encode_pcm(tone, sample_rate=RATE, container="flac", subtype="PCM_16")


@pytest.fixture(scope="module")
def mp3(tone: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone, RATE, format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


@pytest.fixture(scope="module")
def ogg(tone: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone, RATE, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def _read(data: bytes, dtype: str = "int16") -> np.ndarray:
    samples, _ = sf.read(io.BytesIO(data), dtype=dtype, always_2d=True)
    return np.asarray(samples)


def _data_bytes(wav: bytes) -> bytes:
    chunk = next(c for c in threats.riff_chunks(wav) if c.chunk_id == b"data")
    return wav[chunk.data_offset : chunk.data_offset + chunk.size]


# --- payloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("elf", PayloadKind.EXECUTABLE),
        ("pe", PayloadKind.EXECUTABLE),
        ("zip", PayloadKind.ARCHIVE),
        ("gzip", PayloadKind.ARCHIVE),
        ("shell", PayloadKind.SCRIPT),
        ("text", PayloadKind.TEXT),
        ("random", PayloadKind.HIGH_ENTROPY),
    ],
)
def test_payload_is_recognised_as_what_it_claims(kind: str, expected: PayloadKind) -> None:
    payload = threats.make_payload(kind, 8192, seed=3)
    assert identify_payload(payload).kind == expected
    assert threats.make_payload(kind, 8192, seed=3) == payload
    assert threats.make_payload(kind, 8192, seed=4) != payload


def test_unknown_payload_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown payload kind"):
        threats.make_payload("mp4", 100)


# --- data as audio -------------------------------------------------------------------------------


def test_text_as_pcm_samples_are_code_points_scaled() -> None:
    text = "def main():\n    return 42  # é\n"
    data = threats.text_as_pcm(text, sample_rate=8000, scale=256.0)
    samples = _read(data)[:, 0]
    expected = np.round(np.array([ord(c) for c in text]) / 256.0 * 32767).astype(np.int16)
    assert np.array_equal(samples, expected)
    assert sf.info(io.BytesIO(data)).samplerate == 8000


def test_text_as_pcm_normalised_reaches_full_scale_and_centred_has_zero_mean() -> None:
    text = "print('hello world') " * 20
    normalised = _read(threats.text_as_pcm(text, mode="normalised"))[:, 0]
    assert normalised.max() == 32767 and normalised.min() > 0
    centred = _read(threats.text_as_pcm(text, mode="centred"))[:, 0].astype(np.float64)
    assert abs(centred.mean()) < 200 and np.abs(centred).max() == 32767


def test_text_as_pcm_stereo_interleaves_characters() -> None:
    samples = _read(threats.text_as_pcm("abcd", channels=2))
    assert samples.shape == (2, 2)
    assert samples[0, 1] == round(ord("b") / 256 * 32767)


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=600),
    encoding=st.sampled_from(["u8", "s16", "s24"]),
    channels=st.sampled_from([1, 2]),
)
def test_bytes_as_pcm_data_chunk_is_the_data(data: bytes, encoding: str, channels: int) -> None:
    # libsndfile refuses a WAV whose sample data opens with WavPack's "wvpk" ("Data is in
    # WAVPACK format"): true of its reader, not of the bytes written here (found by hypothesis).
    assume(not data.startswith(b"wvpk"))
    wav = threats.bytes_as_pcm(data, encoding=encoding, channels=channels)  # type: ignore[arg-type]
    body = _data_bytes(wav)
    width = {"u8": 1, "s16": 2, "s24": 3}[encoding]
    assert body[: len(data)] == data
    assert len(body) % (width * channels) == 0 and set(body[len(data) :]) <= {0}
    assert sf.info(io.BytesIO(wav)).channels == channels


def test_bytes_as_pcm_float_encodings_map_bytes_to_floats() -> None:
    data = bytes(range(256))
    affine = _read(threats.bytes_as_pcm(data, encoding="f32_affine"), "float32")[:, 0]
    assert np.allclose(affine, np.arange(256) / 127.5 - 1.0, atol=1e-6)
    from_s16 = _read(threats.bytes_as_pcm(data, encoding="f32_from_s16"), "float32")[:, 0]
    assert np.allclose(from_s16, np.frombuffer(data, "<i2") / 32768.0)
    assert sf.info(io.BytesIO(threats.bytes_as_pcm(data, encoding="f32_affine"))).subtype == "FLOAT"


@pytest.mark.parametrize(("encoding", "dtype"), [("s16", "int16"), ("s24", "int32")])
def test_bytes_as_flac_is_lossless(encoding: str, dtype: str) -> None:
    data = np.random.default_rng(1).bytes(3000)
    flac = threats.bytes_as_pcm(data, encoding=encoding, container="flac")  # type: ignore[arg-type]
    assert flac[:4] == b"fLaC"
    samples = _read(flac, dtype)[:, 0]
    if encoding == "s16":
        back = samples.astype("<i2").tobytes()
    else:  # libsndfile returns 24-bit samples in the top three bytes of an int32
        back = (samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, 1:]).tobytes()
    assert back == data


def test_bytes_as_flac_refuses_float_samples() -> None:
    with pytest.raises(ValueError, match="FLAC cannot store"):
        threats.bytes_as_pcm(b"abc", encoding="f32_affine", container="flac")


def test_float_wav_is_byte_identical_across_writes() -> None:
    # libsndfile stamps PEAK chunks with the time; encode_pcm zeroes the stamp.
    x = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    first = threats.encode_pcm(x, sample_rate=RATE, subtype="FLOAT")
    assert any(c.chunk_id == b"PEAK" for c in threats.riff_chunks(first))
    assert threats.encode_pcm(x, sample_rate=RATE, subtype="FLOAT") == first


def test_synthetic_signals_have_the_shape_they_claim() -> None:
    def mono(kind: str) -> np.ndarray:
        data = threats.synthetic_signal(kind, seconds=0.2, sample_rate=8000, seed=5)  # type: ignore[arg-type]
        return _read(data)[:, 0].astype(np.int64)

    assert not mono("silence").any()
    assert np.unique(mono("constant")).size == 1
    assert np.all(np.diff(mono("ramp")) >= 0) and mono("ramp")[0] == -32768
    steps = np.diff(mono("counter")) % 65536
    assert np.unique(steps).size == 1
    square_bytes = mono("byte_square").astype("<i2").tobytes()
    assert set(square_bytes) == {0x00, 0xFF}
    pattern = mono("byte_pattern").astype("<i2").tobytes()
    period = next(p for p in range(2, 17) if pattern[p:] == pattern[:-p])
    assert period <= 16


def test_synthetic_signal_is_deterministic_and_seeded() -> None:
    first = threats.synthetic_signal("byte_pattern", seconds=0.1, seed=1)
    assert threats.synthetic_signal("byte_pattern", seconds=0.1, seed=1) == first
    assert threats.synthetic_signal("byte_pattern", seconds=0.1, seed=2) != first


@pytest.mark.parametrize("order", ["b64_then_xor", "xor_then_b64"])
def test_xor_base64_data_chunk_decodes_back_to_the_payload(order: str) -> None:
    payload = threats.make_payload("elf", 2000, seed=9)
    wav = threats.xor_base64_as_pcm(payload, seed=4, order=order, key_length=8)  # type: ignore[arg-type]
    body = np.frombuffer(_data_bytes(wav), dtype=np.uint8)
    key, rest = body[:8], body[8:]
    if order == "b64_then_xor":
        stage = (rest ^ np.resize(key, rest.size)).tobytes().rstrip(b"\x00")
        recovered = base64.b64decode(stage)
    else:
        xored = np.frombuffer(base64.b64decode(rest.tobytes().rstrip(b"\x00")), dtype=np.uint8)
        recovered = (xored ^ np.resize(key, xored.size)).tobytes()
    assert recovered == payload
    assert threats.xor_base64_as_pcm(payload, seed=4, order=order) == wav  # type: ignore[arg-type]


# --- real audio carrying a payload ---------------------------------------------------------------


def test_appended_payload_sits_right_after_the_data_chunk(wav: bytes, tone: np.ndarray) -> None:
    payload = threats.make_payload("elf", 4096, seed=1)
    out = threats.append_payload(wav, payload)
    data = next(c for c in threats.riff_chunks(out) if c.chunk_id == b"data")
    assert data.end == len(wav)
    assert out[data.end :] == payload
    assert struct.unpack_from("<I", out, 4)[0] == len(wav) - 8  # RIFF size left as it was
    assert np.array_equal(_read(out), tone)


def test_appended_payload_can_be_covered_by_the_riff_size(wav: bytes) -> None:
    out = threats.append_payload(wav, b"PK\x03\x04" + bytes(100), cover_in_riff=True)
    assert struct.unpack_from("<I", out, 4)[0] == len(out) - 8


@pytest.mark.parametrize("fmt", ["flac", "mp3", "ogg"])
def test_appended_payload_after_the_last_frame_still_decodes(
    fmt: str, flac: bytes, mp3: bytes, ogg: bytes
) -> None:
    audio = {"flac": flac, "mp3": mp3, "ogg": ogg}[fmt]
    payload = threats.make_payload("zip", 2048, seed=2)
    out = threats.append_payload(audio, payload)
    assert out.endswith(payload) and out.startswith(audio)
    assert _read(out).shape[0] > 0.9 * RATE
    assert any(name == "zip" for _, name, _ in find_signatures(out[len(audio) :]))


@pytest.mark.parametrize("before_data", [True, False])
def test_extra_riff_chunk_carries_the_payload_and_keeps_the_audio(
    wav: bytes, tone: np.ndarray, before_data: bool
) -> None:
    payload = threats.make_payload("pe", 3001, seed=1)  # odd length: needs a pad byte
    out = threats.add_riff_chunk(wav, payload, chunk_id=b"xtra", before_data=before_data)
    chunks = threats.riff_chunks(out)
    ids = [c.chunk_id for c in chunks]
    assert ids.index(b"xtra") < ids.index(b"data") if before_data else ids[-1] == b"xtra"
    extra = chunks[ids.index(b"xtra")]
    assert out[extra.data_offset : extra.data_offset + extra.size] == payload
    assert chunks[-1].end == len(out)
    assert struct.unpack_from("<I", out, 4)[0] == len(out) - 8
    assert np.array_equal(_read(out), tone)


def test_oversized_list_info_comment_holds_the_payload(wav: bytes) -> None:
    payload = base64.b64encode(threats.make_payload("zip", 50_000, seed=1))
    out = threats.add_list_info(wav, payload)
    listing = next(c for c in threats.riff_chunks(out) if c.chunk_id == b"LIST")
    body = out[listing.data_offset : listing.data_offset + listing.size]
    assert body[:4] == b"INFO" and payload in body and listing.size > len(payload)
    assert sf.info(io.BytesIO(out)).frames == RATE


def test_riff_id3_chunk_holds_a_geob_with_the_payload(wav: bytes) -> None:
    payload = threats.make_payload("elf", 5000, seed=1)
    out = threats.add_riff_id3(wav, payload)
    tag = next(c for c in threats.riff_chunks(out) if c.chunk_id == b"id3 ")
    body = out[tag.data_offset : tag.data_offset + tag.size]
    assert body[:3] == b"ID3" and b"GEOB" in body[:20] and body.endswith(payload)
    assert sf.info(io.BytesIO(out)).frames == RATE


@pytest.mark.parametrize("frame", ["APIC", "GEOB"])
def test_id3_picture_or_object_is_the_payload(mp3: bytes, frame: str) -> None:
    from mutagen.id3 import ID3

    payload = threats.make_payload("zip", 10_000, seed=1)
    out = threats.add_id3_tag(mp3, payload, frame=frame)  # type: ignore[arg-type]
    tags = ID3(io.BytesIO(out))
    found = tags.getall(frame)
    assert len(found) == 1 and found[0].data == payload
    assert len(tags.getall("APIC" if frame == "GEOB" else "GEOB")) == 0
    assert _read(out).shape == _read(mp3).shape
    # The original tag was replaced, not stacked.
    assert out.count(b"ID3\x03") + out.count(b"ID3\x04") == 1


def test_flac_picture_block_is_the_payload(flac: bytes, tone: np.ndarray) -> None:
    payload = threats.make_payload("gzip", 8000, seed=1)
    out = threats.add_flac_picture(flac, payload, mime="image/png")
    blocks = threats.flac_blocks(out)
    assert blocks[0][1] == 0 and not blocks[0][3]  # STREAMINFO first, no longer last
    assert blocks[1][1] == 6 and sum(b[3] for b in blocks) == 1
    offset, _, length, _ = blocks[1]
    assert out[offset + 4 + length - len(payload) : offset + 4 + length] == payload
    assert np.array_equal(_read(out), tone)


def test_vorbis_picture_comment_is_the_payload(ogg: bytes) -> None:
    from mutagen.flac import Picture
    from mutagen.oggvorbis import OggVorbis

    payload = threats.make_payload("elf", 6000, seed=1)
    out = threats.add_vorbis_picture(ogg, payload)
    tags = OggVorbis(io.BytesIO(out))
    picture = Picture(base64.b64decode(tags["metadata_block_picture"][0]))
    assert picture.data == payload
    assert _read(out).shape == _read(ogg).shape


@pytest.mark.parametrize(
    "kind",
    ["riff_oversized", "riff_undersized", "data_oversized", "data_max", "data_undersized_hides"],
)
def test_lying_sizes_disagree_with_the_file(wav: bytes, kind: str) -> None:
    payload = threats.make_payload("shell", 500, seed=1)
    out = threats.lie_about_sizes(wav, kind, payload=payload, seed=2)  # type: ignore[arg-type]
    assert len(out) == len(wav)
    riff_size = struct.unpack_from("<I", out, 4)[0]
    data = next(c for c in threats.riff_chunks(out) if c.chunk_id == b"data")
    true_data = next(c for c in threats.riff_chunks(wav) if c.chunk_id == b"data")
    if kind == "riff_oversized":
        assert riff_size > len(out) - 8
    elif kind == "riff_undersized":
        assert riff_size < len(out) - 8
    elif kind == "data_oversized":
        assert data.data_offset + data.size > len(out)
    elif kind == "data_max":
        assert data.size == 0xFFFFFFFF
    else:
        assert data.size == true_data.size - len(payload)
        assert out[data.data_offset + data.size : len(out)] == payload
        assert riff_size == len(out) - 8
    assert threats.lie_about_sizes(wav, kind, payload=payload, seed=2) == out  # type: ignore[arg-type]


# --- LSB steganography ---------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["wav", "flac"])
@pytest.mark.parametrize("bits", [1, 2])
def test_lsb_stego_puts_the_payload_in_the_low_bits(
    tone: np.ndarray, container: str, bits: int
) -> None:
    cover = threats.encode_pcm(tone, sample_rate=RATE, container=container)  # type: ignore[arg-type]
    payload = threats.make_payload("zip", 1000, seed=1)
    out = threats.lsb_stego(cover, payload, bits=bits, fraction=0.25, seed=3)
    assert out[:4] == cover[:4]
    stego = _read(out)
    flat = stego.reshape(-1).view(np.uint16)
    low = (flat[:, None] >> np.arange(bits, dtype=np.uint16)) & 1  # bit 0 first per carrier
    message = np.packbits(low.reshape(-1).astype(np.uint8), bitorder="little").tobytes()
    assert message[: len(payload)] == payload
    untouched = int(0.25 * flat.size)
    assert np.array_equal(stego.reshape(-1)[untouched + 1 :], tone.reshape(-1)[untouched + 1 :])
    assert np.array_equal(stego >> bits, tone >> bits)
    assert threats.lsb_stego(cover, payload, bits=bits, fraction=0.25, seed=3) == out


def test_lsb_stego_keeps_a_wavex_cover_wavex(tone: np.ndarray) -> None:
    buf = io.BytesIO()
    sf.write(buf, tone, RATE, format="WAVEX", subtype="PCM_16")
    out = threats.lsb_stego(buf.getvalue(), b"secret" * 50, bits=1, fraction=0.5)
    assert sf.info(io.BytesIO(out)).format == "WAVEX"
    assert np.array_equal(_read(out) >> 1, tone >> 1)


def test_lsb_stego_refuses_lossy_or_24_bit_covers(tone: np.ndarray, mp3: bytes) -> None:
    wide = threats.encode_pcm(tone.astype(np.int32) << 16, sample_rate=RATE, subtype="PCM_24")
    for cover in (mp3, wide):
        with pytest.raises(ValueError, match="16-bit WAV or FLAC"):
            threats.lsb_stego(cover, b"x" * 10)


def test_lsb_capacity_counts_whole_bytes() -> None:
    assert threats.lsb_capacity(1000, 2, bits=1) == 250
    assert threats.lsb_capacity(3, 1, bits=2) == 0


# --- determinism, sniffing and splits ------------------------------------------------------------


def test_every_generator_is_deterministic(wav: bytes, flac: bytes, mp3: bytes) -> None:
    payload = threats.make_payload("random", 3000, seed=8)
    makers = [
        lambda: threats.text_as_pcm("abc" * 100, mode="centred"),
        lambda: threats.bytes_as_pcm(payload, encoding="s24", container="flac"),
        lambda: threats.bytes_as_pcm(payload, encoding="f32_affine", channels=2),
        lambda: threats.append_payload(wav, payload),
        lambda: threats.add_riff_chunk(wav, payload),
        lambda: threats.add_list_info(wav, payload),
        lambda: threats.add_id3_tag(mp3, payload),
        lambda: threats.add_flac_picture(flac, payload),
    ]
    for make in makers:
        assert make() == make()


def test_sniffing_uses_magic_bytes_not_names(
    wav: bytes, flac: bytes, mp3: bytes, ogg: bytes
) -> None:
    assert sniff_audio_format(wav[:16]) == "wav"
    assert sniff_audio_format(flac[:16]) == "flac"
    assert sniff_audio_format(ogg[:16]) == "ogg"
    assert sniff_audio_format(mp3[:16]) == "mp3"
    assert sniff_audio_format(b"\xff\xfb\x90\x64" + bytes(12)) == "mp3"  # bare MPEG-1 layer III
    assert sniff_audio_format(b"\xff\xff\xff\xff" + bytes(12)) is None  # sync bits, bad fields
    assert sniff_audio_format(b"\x7fELF" + bytes(12)) is None
    assert sniff_renderable_format(b"GF1PATCH110\x00" + bytes(60)) == "gus_patch"
    assert sniff_renderable_format(b"Extended Module: song" + bytes(60)) == "xm"


def test_splits_keep_each_group_whole_and_hold_out_about_thirty_percent() -> None:
    strata = {"a": [f"a{i}" for i in range(100)], "b": [f"b{i}" for i in range(10)], "c": ["c0"]}
    splits = assign_splits(strata, seed=7)
    assert set(splits) == {g for groups in strata.values() for g in groups}
    assert sum(splits[g] == "heldout" for g in strata["a"]) == 30
    assert sum(splits[g] == "heldout" for g in strata["b"]) == 3
    reordered = {k: list(reversed(v)) for k, v in strata.items()}
    assert assign_splits(reordered, seed=7) == splits
    assert assign_splits(strata, seed=8) != splits
