"""Red team: a file's bytes given the codes or frames of an audio codec (issue #17, session 14).

A codec's decoder turns its codes into samples, so bytes written *as codes* come back out of
the file exactly while the samples look nothing like bytes: mu-law/A-law codes (and the same
codes expanded to 16-bit PCM), IMA ADPCM nibbles (as they are; decoded to 16-bit PCM at several
rates, channel counts and block sizes; spliced into a good track), MP3 frame bodies behind valid
headers, Opus packets in a valid Ogg stream (CELT, SILK and hybrid TOCs, 2.5-60 ms frames,
frame-count codes 0-3, constant and varying packet sizes), and (session 16) MS ADPCM, G.721,
G.723, OKI/Dialogic (.vox) and GSM 06.10 codes in their containers and decoded to 16-bit PCM.
Each is built here from four payloads
(random bytes as an encrypted payload, the head of numpy's largest shared library (ELF), this
repository's Python source, that source compressed), judged by ``validate_path``, and printed as
a table; then good audio from the dev corpus written with the same codecs by libsndfile (and
through opusenc at 6-128 kb/s when opus-tools is installed), as the false-flag check.

Usage::

    uv run --frozen python bench/codec_codes.py                 # 8 good files per codec
    uv run --frozen python bench/codec_codes.py --good 40
    uv run --frozen python bench/codec_codes.py --only "gsm,oki,ms adpcm" --good 0
    uv run --frozen python bench/codec_codes.py --no-attacks --only "gsm,vox" --good 20
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
    out.wav``, the brief's converter) and reads the codec, else by libsndfile (the same IMA
    decoder's values; G.721 and AU's G.723, which sox's WAV reader does not take)."""
    if shutil.which("sox") and wav[:4] == b"RIFF" and struct.unpack("<H", wav[20:22])[0] != 0x40:
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


# Bytes of each block's own header (the decoder's state, left as the encoder wrote it).
_BLOCK_HEADER_BYTES = {"MS_ADPCM": 7, "IMA_ADPCM": 4}


def coded_file(
    subtype: str, rate: int = 8000, channels: int = 1, fmt: str = "WAV"
) -> Callable[[bytes], bytes]:
    """The bytes written over the codes of a file libsndfile encoded (silence, long enough):
    every block header stays as the encoder wrote it, every code after it is the payload's
    (repeated to the end of the data chunk). MS ADPCM and IMA ADPCM, GSM 6.10 (WAV 0x31: 65-byte
    blocks of two frames), G.721 (WAV 0x40; AU), G.723 at 24 and 40 kb/s (AU)."""

    def make(data: bytes) -> bytes:
        buf = io.BytesIO()
        frames = len(data) * 3 // channels
        sf.write(buf, np.zeros((frames, channels)), rate, format=fmt, subtype=subtype)
        coded = bytearray(buf.getvalue())
        if fmt == "AU":
            start, align = struct.unpack(">I", coded[4:8])[0], 1
            end = len(coded)
        else:
            fmt_at, start = coded.find(b"fmt "), coded.find(b"data") + 8
            align = struct.unpack("<H", coded[fmt_at + 20 : fmt_at + 22])[0]
            end = start + struct.unpack("<I", coded[start - 4 : start])[0]
        header = _BLOCK_HEADER_BYTES.get(subtype, 0) * channels
        at, taken = start, 0
        while at < end:
            body = min(align, end - at) - header
            piece = bytes(data[(taken + i) % len(data)] for i in range(body)) if body > 0 else b""
            coded[at + header : at + header + len(piece)] = piece
            at, taken = at + align, taken + len(piece)
        return bytes(coded)

    return make


def vox_raw(data: bytes) -> bytes:
    """The bytes as they are: a headerless OKI/Dialogic ADPCM (.vox) file is nothing but
    nibbles (8 kHz is the convention; the receiver must be told)."""
    return data


def gsm_raw(data: bytes) -> bytes:
    """The bytes as the frames of a headerless GSM 06.10 (.gsm) file: 33-byte frames, each
    opening with the 0xD signature nibble, the payload in the other 260 bits."""
    frames = []
    for i in range(0, len(data), 33):
        chunk = data[i : i + 33].ljust(33, b"\0")
        frames.append(bytes([0xD0 | chunk[0] & 0x0F]) + chunk[1:])
    return b"".join(frames)


def _sox_to_pcm16(suffix: str, options: list[str]) -> Callable[[bytes], bytes]:
    """A raw code stream (``.vox``, ``.gsm``) decoded by sox to 16-bit PCM."""

    def make(data: bytes) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            source, out = Path(tmp) / f"in{suffix}", Path(tmp) / "out.wav"
            source.write_bytes(data)
            subprocess.run(
                ["sox", "-V1", *options, str(source), "-e", "signed", "-b", "16", str(out)],
                check=True,
            )
            return out.read_bytes()

    return make


def as_pcm16(make_coded: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """A coded file's codes decoded and written as 16-bit PCM."""

    def make(data: bytes) -> bytes:
        return _to_pcm16(make_coded(data))

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


def _opus_frame_samples(config: int) -> int:
    """48 kHz samples in one frame of a TOC configuration (RFC 6716 3.1)."""
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        return 48 * (10, 20, 40, 60)[config % 4]
    if config < 16:  # hybrid: 10, 20 ms
        return 48 * (10, 20)[config % 2]
    return 120 << (config % 4)  # CELT: 2.5, 5, 10, 20 ms


def _opus_packet(toc: int, code: int, frames: list[bytes]) -> bytes:
    """One packet of ``frames`` with frame-count code 0-3 (RFC 6716 3.2)."""
    head = bytes([toc | code])
    if code == 0:
        return head + frames[0]
    if code == 1:  # two frames of one size
        return head + frames[0] + frames[1][: len(frames[0])].ljust(len(frames[0]), b"\0")
    if code == 2:  # two frames, the first one's size coded (one byte: under 252)
        return head + bytes([len(frames[0])]) + frames[0] + frames[1]
    size = len(frames[0])  # code 3, constant size: the frame count byte, then the frames
    return head + bytes([len(frames)]) + b"".join(f.ljust(size, b"\0") for f in frames)


def opus_stream(
    data: bytes, config: int, *, stereo: bool, code: int, sizes: Callable[[int], int]
) -> bytes:
    """The bytes as the frames of an Ogg Opus stream: any TOC configuration (SILK, hybrid,
    CELT; 2.5-60 ms), frame-count code 0-3, frame sizes from ``sizes(n)`` (CBR or VBR)."""
    channels = 2 if stereo else 1
    toc = config << 3 | int(stereo) << 2
    per_packet = {0: 1, 1: 2, 2: 2, 3: 3}[code]
    frame_samples = _opus_frame_samples(config)
    packets: list[bytes] = []
    at, n = 0, 0
    while at < len(data):
        frames = []
        for _ in range(per_packet):
            size = min(sizes(n), 251) if code == 2 and not frames else sizes(n)
            frames.append(data[at : at + size])
            at, n = at + size, n + 1
        packets.append(_opus_packet(toc, code, frames))
    head = b"OpusHead" + bytes([1, channels]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    pages = [
        _ogg_page([head], 0, 0, 2),
        _ogg_page([b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)], 1, 0, 0),
    ]
    for page, start in enumerate(range(0, len(packets), 20)):
        group = packets[start : start + 20]
        last = start + 20 >= len(packets)
        granule = frame_samples * per_packet * (start + len(group))
        pages.append(_ogg_page(group, 2 + page, granule, 4 if last else 0))
    return b"".join(pages)


def _constant(size: int) -> Callable[[int], int]:
    return lambda n: size


def _varying(low: int, high: int) -> Callable[[int], int]:
    """VBR-like sizes: each frame's size drawn in [low, high)."""
    return lambda n: int(np.random.default_rng(n).integers(low, high))


def opus(
    config: int, stereo: bool, code: int, sizes: Callable[[int], int]
) -> Callable[[bytes], bytes]:
    def make(data: bytes) -> bytes:
        return opus_stream(data, config, stereo=stereo, code=code, sizes=sizes)

    return make


def opus_packets(data: bytes) -> bytes:
    """The bytes as 20 ms CELT packets (one fixed TOC byte each) of a valid Ogg Opus stream."""
    return opus_stream(data, 31, stereo=True, code=0, sizes=_constant(160))


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
    "IMA ADPCM source, 22.05 kHz mono, 1024-byte blocks": (".wav", ima_as_pcm16(22050, 1, 1024)),
    "MS ADPCM codes (WAV 2)": (".wav", coded_file("MS_ADPCM")),
    "MS ADPCM codes as 16-bit PCM, 8 kHz mono": (".wav", as_pcm16(coded_file("MS_ADPCM"))),
    "... 44.1 kHz stereo": (".wav", as_pcm16(coded_file("MS_ADPCM", 44100, 2))),
    "G.721 codes (WAV 0x40)": (".wav", coded_file("G721_32")),
    "G.721 codes as 16-bit PCM": (".wav", as_pcm16(coded_file("G721_32"))),
    "G.723 24 kb/s codes (AU)": (".au", coded_file("G723_24", fmt="AU")),
    "G.723 40 kb/s codes as 16-bit PCM": (".wav", as_pcm16(coded_file("G723_40", fmt="AU"))),
    "OKI ADPCM codes (raw .vox)": (".vox", vox_raw),
    "OKI ADPCM codes as 16-bit PCM (sox)": (".wav", _sox_to_pcm16(".vox", ["-r", "8000"])),
    "GSM 06.10 frames (WAV 0x31)": (".wav", coded_file("GSM610")),
    "GSM 06.10 frames as 16-bit PCM (WAV 0x31)": (".wav", as_pcm16(coded_file("GSM610"))),
    "GSM 06.10 frames (raw .gsm)": (".gsm", gsm_raw),
    "GSM 06.10 frames as 16-bit PCM (sox, .gsm)": (
        ".wav",
        lambda data: _sox_to_pcm16(".gsm", [])(gsm_raw(data)),
    ),
    "MP3 frame bodies": (".mp3", mp3_frames),
    "MP3 ancillary bytes (empty granules)": (".mp3", mp3_ancillary),
    "Opus CELT FB 20 ms, stereo, CBR 160 B": (".opus", opus_packets),
    "Opus CELT FB 20 ms, mono, VBR 40-400 B": (".opus", opus(31, False, 0, _varying(40, 400))),
    "Opus CELT WB 10 ms, mono, CBR 60 B": (".opus", opus(22, False, 0, _constant(60))),
    "Opus CELT FB 2.5 ms, stereo, CBR 40 B": (".opus", opus(28, True, 0, _constant(40))),
    "Opus CELT SWB 5 ms, code 3 (x3), CBR 50 B": (".opus", opus(25, True, 3, _constant(50))),
    "Opus CELT FB 20 ms, code 1 (x2), 120 B": (".opus", opus(31, True, 1, _constant(120))),
    "Opus CELT NB 20 ms, code 2, VBR 20-200 B": (".opus", opus(19, False, 2, _varying(20, 200))),
    "Opus SILK NB 20 ms, CBR 20 B": (".opus", opus(1, False, 0, _constant(20))),
    "Opus SILK MB 40 ms, VBR 20-150 B": (".opus", opus(6, False, 0, _varying(20, 150))),
    "Opus SILK WB 60 ms, CBR 80 B": (".opus", opus(11, False, 0, _constant(80))),
    "Opus SILK WB 20 ms, code 3 (x3), 40 B": (".opus", opus(9, True, 3, _constant(40))),
    "Opus hybrid SWB 10 ms, CBR 60 B": (".opus", opus(12, False, 0, _constant(60))),
    "Opus hybrid FB 20 ms, stereo, VBR 60-300 B": (".opus", opus(15, True, 0, _varying(60, 300))),
}

# good audio written with the same codecs by libsndfile: (format, subtype, rate or None)
GOOD_CODECS: dict[str, tuple[str, str, int | None]] = {
    "mu-law WAV 8 kHz": ("WAV", "ULAW", 8000),
    "A-law WAV 8 kHz": ("WAV", "ALAW", 8000),
    "IMA ADPCM WAV": ("WAV", "IMA_ADPCM", None),
    "IMA ADPCM WAV, decoded to 16-bit PCM": ("WAV", "IMA_ADPCM", None),
    "MS ADPCM WAV": ("WAV", "MS_ADPCM", None),
    "MS ADPCM WAV, decoded to 16-bit PCM": ("WAV", "MS_ADPCM", None),
    "GSM 6.10 WAV 8 kHz": ("WAV", "GSM610", 8000),
    "GSM 6.10 WAV 8 kHz, decoded to 16-bit PCM": ("WAV", "GSM610", 8000),
    "G.721 WAV": ("WAV", "G721_32", None),
    "G.721 WAV, decoded to 16-bit PCM": ("WAV", "G721_32", None),
    "G.723 40 kb/s AU": ("AU", "G723_40", None),
    "MP3": ("MP3", "MPEG_LAYER_III", None),
    "Opus": ("OGG", "OPUS", 48000),
}

# good audio through a real Opus encoder: SILK at 6 kb/s, hybrid or CELT in hard CBR, CELT
OPUSENC: dict[str, list[str]] = {
    "opusenc 6 kb/s": ["--bitrate", "6"],
    "opusenc 32 kb/s hard CBR": ["--bitrate", "32", "--hard-cbr"],
    "opusenc 128 kb/s 10 ms": ["--bitrate", "128", "--framesize", "10"],
}


# good audio through sox's own encoders: (suffix, options before the coded file, decode options,
# whether the coded file itself is judged rather than its 16-bit decoding)
SOX_ROUTES: dict[str, tuple[str, list[str], list[str], bool]] = {
    "sox MS ADPCM WAV": (".wav", ["-e", "ms-adpcm"], [], True),
    "sox MS ADPCM, back to 16-bit PCM": (".wav", ["-e", "ms-adpcm"], [], False),
    "sox GSM WAV 8 kHz": (".wav", ["-r", "8000", "-c", "1", "-e", "gsm-full-rate"], [], True),
    "sox .gsm, back to 16-bit PCM": (".gsm", ["-r", "8000", "-c", "1"], [], False),
    "sox .vox 8 kHz, back to 16-bit PCM": (
        ".vox",
        ["-r", "8000", "-c", "1"],
        ["-r", "8000"],
        False,
    ),
    "sox .vox at the track's rate, back": (".vox", ["-c", "1"], ["-r", "RATE"], False),
}


def _sox_route(source: Path, work: Path, route: tuple[str, list[str], list[str], bool]) -> Path:
    suffix, encode, decode, coded_itself = route
    y, sr = sf.read(source, always_2d=True)
    wav, coded, back = work / "good_in.wav", work / f"good_coded{suffix}", work / "good_back.wav"
    sf.write(wav, np.clip(y, -1, 1), sr, subtype="PCM_16")
    subprocess.run(["sox", "-V1", str(wav), *encode, str(coded)], check=True)
    if coded_itself:
        return coded
    decode = [str(sr) if option == "RATE" else option for option in decode]
    subprocess.run(
        ["sox", "-V1", *decode, str(coded), "-e", "signed", "-b", "16", str(back)], check=True
    )
    return back


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
    parser.add_argument(
        "--only", default="", help="only the rows naming one of these (comma-separated)"
    )
    parser.add_argument("--no-attacks", action="store_true", help="the good rows only")
    args = parser.parse_args()
    wanted = args.only.lower().split(",")

    def chosen(name: str) -> bool:
        return any(word in name.lower() for word in wanted)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("| disguise | payload | decision | findings |\n| --- | --- | --- | --- |")
        for name, (suffix, make) in DISGUISES.items():
            if args.no_attacks or not chosen(name):
                continue
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
            if not chosen(name):
                continue
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
        for name, route in SOX_ROUTES.items():
            if not chosen(name) or shutil.which("sox") is None:
                continue
            flagged = []
            for source in sources:
                if validate_path(_sox_route(source, work, route)).decision.value != "accept":
                    flagged.append(source.name)
            print(f"| {name} | {len(sources)} | {len(flagged)} | {', '.join(flagged)} |")
        if not chosen("opusenc"):
            return
        if shutil.which("opusenc") is None:
            print("(opusenc not installed: apt-get install opus-tools for the opusenc rows)")
            return
        for name, options in OPUSENC.items():
            flagged = []
            for source in sources:
                y, sr = sf.read(source, always_2d=True)
                wav, path = work / "good.wav", work / "good.opus"
                sf.write(wav, np.clip(y, -1, 1), sr, subtype="PCM_16")
                subprocess.run(["opusenc", "--quiet", *options, str(wav), str(path)], check=True)
                if validate_path(path).decision.value != "accept":
                    flagged.append(source.name)
            print(f"| {name} | {len(sources)} | {len(flagged)} | {', '.join(flagged)} |")


if __name__ == "__main__":
    main()
