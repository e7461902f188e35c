"""The real tools the evaluation families are made with: apt programs run on temporary files.

Each wrapper takes samples or bytes and returns the tool's output bytes (or samples), so the
generators stay functions of their inputs. The tools come from Debian, never from PyPI:
``minimodem`` (data sent as sound), ``steghide`` (histogram-preserving stego), ``sox`` (mixing,
resampling, telephone band, mu-law), ``lame``, ``oggenc`` (vorbis-tools), ``flac`` and
``metaflac``, ``espeak-ng``. :func:`missing_tools` names the ones this machine lacks, so a
caller can skip a family instead of failing half-way.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = [
    "MINIMODEM_RATE",
    "TOOLS",
    "espeak",
    "flac_encode",
    "lame_encode",
    "metaflac_total_samples",
    "minimodem_rx",
    "minimodem_tx",
    "missing_tools",
    "oggenc_encode",
    "sox",
    "steghide_capacity",
    "steghide_embed",
    "wav_bytes",
]

TOOLS: tuple[str, ...] = (
    "minimodem",
    "steghide",
    "sox",
    "lame",
    "oggenc",
    "flac",
    "metaflac",
    "espeak-ng",
)
MINIMODEM_RATE = 48000  # minimodem --tx writes 48 kHz unless told otherwise


def missing_tools(names: Sequence[str] = TOOLS) -> list[str]:
    """The tools of ``names`` not on this machine's PATH."""
    return [n for n in names if shutil.which(n) is None]


def _run(cmd: list[str], stdin: bytes | None = None, timeout: float = 600) -> bytes:
    return subprocess.run(cmd, input=stdin, capture_output=True, check=True, timeout=timeout).stdout


def wav_bytes(x: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    """``x`` (frames[, channels]) as a WAV file of ``subtype``."""
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def minimodem_tx(data: bytes, baud: float) -> np.ndarray:
    """``data`` sent by ``minimodem --tx`` at ``baud`` (Bell 103/202-like FSK and its family
    chosen by minimodem from the rate); float64 mono samples at :data:`MINIMODEM_RATE`."""
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        out = Path(tmp) / "tx.wav"
        _run(["minimodem", "--tx", "-f", str(out), f"{baud:g}"], stdin=data)
        y, _ = sf.read(out, dtype="float64")
    return np.asarray(y)


def minimodem_rx(wav: bytes, baud: float) -> bytes:
    """What ``minimodem --rx`` at ``baud`` receives from a WAV: whether a transmission still
    carries its bytes (under music, a weak one may not)."""
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        path = Path(tmp) / "rx.wav"
        path.write_bytes(wav)
        return subprocess.run(
            ["minimodem", "--rx", "-q", "-f", str(path), f"{baud:g}"],
            capture_output=True,
            check=False,
            timeout=300,
        ).stdout


def sox(inputs: Sequence[bytes], effects: Sequence[str], *, out_args: Sequence[str] = ()) -> bytes:
    """Run ``sox [-m] in... [out_args] out.wav effects...`` on WAV bytes; return the output.

    Two or more inputs are mixed (``-m``); ``out_args`` are output format options such as
    ``-r 8000 -e mu-law``.
    """
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        paths = []
        for i, blob in enumerate(inputs):
            p = Path(tmp) / f"in{i}.wav"
            p.write_bytes(blob)
            paths.append(str(p))
        out = Path(tmp) / "out.wav"
        mix = ["-m"] if len(paths) > 1 else []
        # -R: sox's repeatable mode (its dither and noise generators seeded alike every run)
        _run(["sox", "-R", *mix, *paths, *out_args, str(out), *effects])
        return out.read_bytes()


def steghide_capacity(cover: bytes) -> int:
    """The bytes ``steghide info`` says the WAV ``cover`` can hold (0 when it says nothing)."""
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        path = Path(tmp) / "cover.wav"
        path.write_bytes(cover)
        text = subprocess.run(
            ["steghide", "info", str(path), "-p", "x"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        ).stdout
    found = re.search(r"capacity:\s*([\d.]+)\s*(Byte|KB|MB)", text)
    if not found:
        return 0
    return int(float(found.group(1)) * {"Byte": 1, "KB": 1024, "MB": 1 << 20}[found.group(2)])


def steghide_embed(
    cover: bytes, payload: bytes, *, encrypted: bool = True, passphrase: str = "PASS"
) -> bytes | None:
    """``payload`` embedded in the WAV ``cover`` by ``steghide embed``; None when it does not
    fit. ``encrypted=False`` embeds it as is (``-e none -Z``: neither encrypted nor
    compressed), as a loader that wants the bytes back without a key would."""
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        cf, ef, stego = Path(tmp, "cover.wav"), Path(tmp, "payload"), Path(tmp, "stego.wav")
        cf.write_bytes(cover)
        ef.write_bytes(payload)
        extra = [] if encrypted else ["-e", "none", "-Z"]
        cmd = ["steghide", "embed", "-cf", str(cf), "-ef", str(ef), "-sf", str(stego)]
        done = subprocess.run(
            [*cmd, "-p", passphrase, "-f", "-q", *extra],
            capture_output=True,
            check=False,
            timeout=600,
        )
        return stego.read_bytes() if done.returncode == 0 and stego.exists() else None


def _pcm16(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes()


def _encode_raw(cmd: list[str], x: np.ndarray, target_name: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        target = Path(tmp) / target_name
        _run([a.replace("{out}", str(target)) for a in cmd], stdin=_pcm16(x))
        return target.read_bytes()


def lame_encode(x: np.ndarray, rate: int, *, kbps: int = 128) -> bytes:
    """Float (frames, channels) encoded by ``lame`` at ``kbps`` (CBR) from 16-bit PCM."""
    mode = "m" if x.shape[1] == 1 else "j"
    cmd = ["lame", "--quiet", "-r", "-s", f"{rate / 1000:g}", "--bitwidth", "16", "--signed"]
    cmd += ["--little-endian", "-m", mode, "-b", str(kbps), "-", "{out}"]
    return _encode_raw(cmd, x, "out.mp3")


def oggenc_encode(x: np.ndarray, rate: int, *, quality: int = 4, serial: int = 1) -> bytes:
    """Float (frames, channels) encoded by ``oggenc`` (Vorbis) with a fixed stream serial."""
    cmd = ["oggenc", "-Q", "-r", "-B", "16", "-C", str(x.shape[1]), "-R", str(rate)]
    cmd += ["-q", str(quality), "-s", str(serial), "-o", "{out}", "-"]
    return _encode_raw(cmd, x, "out.ogg")


def flac_encode(x: np.ndarray, rate: int) -> bytes:
    """Float (frames, channels) encoded by the reference ``flac`` encoder from 16-bit PCM."""
    cmd = ["flac", "--silent", "--force-raw-format", "--endian=little", "--sign=signed"]
    cmd += [f"--channels={x.shape[1]}", "--bps=16", f"--sample-rate={rate}", "-o", "{out}", "-"]
    return _encode_raw(cmd, x, "out.flac")


def metaflac_total_samples(flac: bytes) -> int:
    """STREAMINFO's sample count as ``metaflac --show-total-samples`` reads it."""
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        path = Path(tmp) / "in.flac"
        path.write_bytes(flac)
        return int(_run(["metaflac", "--show-total-samples", str(path)]).decode().strip())


def espeak(text: str, *, voice: str = "en", speed: int = 160, pitch: int = 50) -> bytes:
    """``text`` spoken by ``espeak-ng`` as a WAV (22.05 kHz mono 16-bit)."""
    return _run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text])
