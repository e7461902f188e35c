"""Red team: a file's bytes given the codes or frames of an audio codec (issue #17, session 14).

A codec's decoder turns its codes into samples, so bytes written *as codes* come back out of
the file exactly while the samples look nothing like bytes: mu-law/A-law codes (and the same
codes expanded to 16-bit PCM), IMA ADPCM nibbles (as they are; decoded to 16-bit PCM at several
rates, channel counts and block sizes; spliced into a good track), MP3 frame bodies behind valid
headers, Opus packets behind a fixed TOC byte in a valid Ogg stream. Each is built here from
four payloads (random bytes as an encrypted payload, the head of numpy's largest shared library
(ELF), this repository's Python source, and that source compressed), judged by
``validate_path``, and printed as a table; then good audio from the dev corpus written with the
same codecs by libsndfile, as the false-flag check.

Usage::

    uv run --frozen python bench/codec_codes.py                 # 8 good files per codec
    uv run --frozen python bench/codec_codes.py --good 40
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from audiomodel.companded import decode_codes
from audiomodel.findings import Severity
from audiomodel.validator import validate_path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".cache/corpus/full-seed0"
PAYLOAD_BYTES = 200_000


def payloads() -> dict[str, bytes]:
    source = b"".join(p.read_bytes() for p in sorted((ROOT / "libs").rglob("*.py")))
    return {
        "random": np.random.default_rng(14).bytes(PAYLOAD_BYTES),
        "ELF": max(
            Path(np.__file__).parent.rglob("*.so"), key=lambda p: p.stat().st_size
        ).read_bytes()[:PAYLOAD_BYTES],
        "source": source[:PAYLOAD_BYTES],
        "compressed": zlib.compress(source, 9)[:PAYLOAD_BYTES],
    }


# -- the disguises ---------------------------------------------------------------------------


def _riff(fmt: bytes, data: bytes) -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def g711_wav(tag: int) -> Callable[[bytes], bytes]:
    """The bytes as the codes of an 8 kHz mono mu-law (7) or A-law (6) WAV."""

    def make(data: bytes) -> bytes:
        return _riff(struct.pack("<HHIIHH", tag, 1, 8000, 8000, 1, 8), data)

    return make


def g711_as_pcm16(subtype: str) -> Callable[[bytes], bytes]:
    """The same codes expanded to 16-bit PCM (what a converter writes)."""

    def make(data: bytes) -> bytes:
        buf = io.BytesIO()
        sf.write(buf, decode_codes(data, subtype), 8000, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    return make


def ima_adpcm_wav(data: bytes, rate: int = 8000, channels: int = 1, block: int = 256) -> bytes:
    """The bytes as the nibbles of an IMA ADPCM WAV (``block`` bytes a block, each after valid
    4-byte channel headers: predictor 0, step index 0)."""
    per_block = block - 4 * channels
    blocks = [
        b"\0\0\0\0" * channels + data[i : i + per_block].ljust(per_block, b"\0")
        for i in range(0, len(data), per_block)
    ]
    samples_per_block = per_block * 2 // channels + 1
    byte_rate = rate * block // samples_per_block
    fmt = struct.pack("<HHIIHHHH", 0x11, channels, rate, byte_rate, block, 4, 2, samples_per_block)
    return _riff(fmt, b"".join(blocks))  # (libsndfile reads it without a fact chunk)


def _to_pcm16(wav: bytes) -> bytes:
    """A WAV converted to 16-bit PCM: by sox when it is installed (``sox in.wav -e signed -b 16
    out.wav``, the brief's converter), else by libsndfile (the same IMA decoder's values)."""
    if shutil.which("sox"):
        with tempfile.TemporaryDirectory() as tmp:
            source, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
            source.write_bytes(wav)
            subprocess.run(
                ["sox", "-V1", str(source), "-e", "signed", "-b", "16", str(out)], check=True
            )
            return out.read_bytes()
    samples, rate = sf.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def ima_as_pcm16(rate: int, channels: int, block: int) -> Callable[[bytes], bytes]:
    """The IMA ADPCM WAV's nibbles decoded and written as 16-bit PCM."""

    def make(data: bytes) -> bytes:
        return _to_pcm16(ima_adpcm_wav(data, rate, channels, block))

    return make


def ima_spliced(data: bytes) -> bytes:
    """8 s of the bytes as IMA ADPCM (44.1 kHz stereo, 2048-byte blocks), decoded and pasted
    over the middle of a good 16-bit track of the dev corpus (its first long enough)."""
    codes = sf.read(io.BytesIO(ima_adpcm_wav(data, 44100, 2, 2048)), dtype="int16", always_2d=True)[
        0
    ][: 8 * 44100]
    track = next(
        y
        for y, rate in (sf.read(p, dtype="int16", always_2d=True) for p in good_files(40))
        if rate == 44100 and y.shape[1] == 2 and y.shape[0] >= 3 * codes.shape[0]
    ).copy()
    at = (track.shape[0] - codes.shape[0]) // 2
    track[at : at + codes.shape[0]] = codes
    buf = io.BytesIO()
    sf.write(buf, track, 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def mp3_frames(data: bytes) -> bytes:
    """The bytes cut into the bodies of 128 kb/s 44.1 kHz MPEG-1 Layer III frames."""
    header, body = bytes([0xFF, 0xFB, 0x90, 0x00]), 417 - 4
    return b"".join(
        header + data[i : i + body].ljust(body, b"\0") for i in range(0, len(data), body)
    )


def mp3_ancillary(data: bytes) -> bytes:
    """The bytes behind valid headers and all-zero side information: every frame declares
    empty granules, so each frame's main data is ancillary bytes."""
    header, side, body = bytes([0xFF, 0xFB, 0x90, 0x00]), bytes(32), 417 - 4 - 32
    return b"".join(
        header + side + data[i : i + body].ljust(body, b"\0") for i in range(0, len(data), body)
    )


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packets: list[bytes], seq: int, granule: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    head = b"OggS" + bytes([0, flags]) + struct.pack("<qIIIB", granule, 1, seq, 0, len(lacing))
    page = head + bytes(lacing) + b"".join(packets)
    crc = _ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def opus_packets(data: bytes) -> bytes:
    """The bytes as 20 ms CELT packets (one fixed TOC byte each) of a valid Ogg Opus stream."""
    pages = [
        _ogg_page([b"OpusHead" + bytes([1, 2]) + struct.pack("<HIhB", 312, 48000, 0, 0)], 0, 0, 2),
        _ogg_page([b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)], 1, 0, 0),
    ]
    packets = [b"\xfc" + data[i : i + 160] for i in range(0, len(data), 160)]
    for n, start in enumerate(range(0, len(packets), 20)):
        group = packets[start : start + 20]
        last = start + 20 >= len(packets)
        pages.append(_ogg_page(group, 2 + n, 960 * (start + len(group)), 4 if last else 0))
    return b"".join(pages)


DISGUISES: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "mu-law codes (WAV)": (".wav", g711_wav(7)),
    "A-law codes (WAV)": (".wav", g711_wav(6)),
    "mu-law codes as 16-bit PCM": (".wav", g711_as_pcm16("ULAW")),
    "A-law codes as 16-bit PCM": (".wav", g711_as_pcm16("ALAW")),
    "IMA ADPCM nibbles (WAV)": (".wav", ima_adpcm_wav),
    "IMA ADPCM nibbles as 16-bit PCM, 8 kHz mono": (".wav", ima_as_pcm16(8000, 1, 256)),
    "... 22.05 kHz mono, 1024-byte blocks": (".wav", ima_as_pcm16(22050, 1, 1024)),
    "... 48 kHz stereo, 2048-byte blocks": (".wav", ima_as_pcm16(48000, 2, 2048)),
    "... spliced into a good 44.1 kHz stereo track": (".wav", ima_spliced),
    "MP3 frame bodies": (".mp3", mp3_frames),
    "MP3 ancillary bytes (empty granules)": (".mp3", mp3_ancillary),
    "Opus packets (Ogg)": (".opus", opus_packets),
}

# good audio written with the same codecs by libsndfile: (format, subtype, rate or None)
GOOD_CODECS: dict[str, tuple[str, str, int | None]] = {
    "mu-law WAV 8 kHz": ("WAV", "ULAW", 8000),
    "A-law WAV 8 kHz": ("WAV", "ALAW", 8000),
    "IMA ADPCM WAV": ("WAV", "IMA_ADPCM", None),
    "IMA ADPCM WAV, decoded to 16-bit PCM": ("WAV", "IMA_ADPCM", None),
    "MP3": ("MP3", "MPEG_LAYER_III", None),
    "Opus": ("OGG", "OPUS", 48000),
}


def _resampled(y: np.ndarray, rate: int, to: int | None) -> tuple[np.ndarray, int]:
    if to is None or to == rate:
        return y, rate
    n = int(len(y) * to / rate)
    positions = np.linspace(0, len(y) - 1, n)
    return np.stack([np.interp(positions, np.arange(len(y)), c) for c in y.T], axis=1), to


def good_files(count: int) -> list[Path]:
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").read_text().splitlines()]
    good = [CORPUS / r["path"] for r in rows if r["label"] == "good"]
    order = np.random.default_rng(5).permutation(len(good))
    return [good[i] for i in order[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--good", type=int, default=8, help="good corpus files per codec")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("| disguise | payload | decision | findings |\n| --- | --- | --- | --- |")
        for name, (suffix, make) in DISGUISES.items():
            for label, data in payloads().items():
                path = work / f"attack{suffix}"
                path.write_bytes(make(data))
                verdict = validate_path(path)
                codes = sorted(
                    {f.code for f in verdict.findings if f.severity >= Severity.SUSPICIOUS}
                )
                print(f"| {name} | {label} | {verdict.decision.value} | {', '.join(codes)} |")
        if args.good <= 0 or not CORPUS.is_dir():
            return
        print(
            "\n| good audio written as | files | flagged | flagged files |\n| --- | ---: | ---: | --- |"
        )
        sources = good_files(args.good)
        for name, (fmt, subtype, rate) in GOOD_CODECS.items():
            flagged: list[str] = []
            written = 0
            for source in sources:
                y, sr = sf.read(source, always_2d=True)
                y, sr = _resampled(y, sr, rate)
                path = work / f"good.{fmt.lower()}"
                try:
                    sf.write(path, np.clip(y, -1, 1), sr, format=fmt, subtype=subtype)
                except sf.LibsndfileError:
                    continue  # (a rate the codec has no mode for: MP3 at 96 kHz)
                written += 1
                if "decoded to 16-bit" in name:
                    path.write_bytes(_to_pcm16(path.read_bytes()))
                verdict = validate_path(path)
                if verdict.decision.value != "accept":
                    flagged.append(source.name)
            print(f"| {name} | {written} | {len(flagged)} | {', '.join(flagged)} |")


if __name__ == "__main__":
    main()
