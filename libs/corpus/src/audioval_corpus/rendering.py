"""Rendering a clip spec into bytes: decode with ffmpeg, shape the signal, encode.

Decoding and the lossy encoders are the apt tools (ffmpeg, oggenc, lame); PCM WAV and FLAC go
through libsndfile (:func:`audioval_corpus.threats.encode_pcm`) or ffmpeg, as the spec draws,
so the corpus holds more than one encoder's bytes of each format.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from audioval_corpus import threats
from audioval_corpus.specs import ClipSpec

__all__ = ["clip_maker", "probe_duration"]

_FFMPEG_PCM = {
    "PCM_16": "pcm_s16le",
    "PCM_24": "pcm_s24le",
    "PCM_U8": "pcm_u8",
    "FLOAT": "pcm_f32le",
}
# Peak below which a decoded clip is treated as silence (-50 dBFS).
_AUDIBLE_PEAK = 10 ** (-50 / 20)


def probe_duration(path: Path) -> float:
    """Seconds of audio in ``path`` (libsndfile, else ffprobe); 0.0 when neither can tell."""
    try:
        return float(sf.info(str(path)).duration)
    except (RuntimeError, sf.LibsndfileError):
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                *[str(path)],
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            return float(probe.stdout.strip())
        except ValueError:
            return 0.0


def _decode(path: Path, start: float, seconds: float, rate: int, channels: int) -> np.ndarray:
    """Decode a stretch of ``path`` with ffmpeg to float32 (frames, channels) at ``rate``."""
    convert = ["-f", "f32le", "-ac", str(channels), "-ar", str(rate), "-"]
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}"]
    done = subprocess.run([*cmd, "-i", str(path), *convert], capture_output=True, check=False)
    if done.returncode != 0:
        # A few Ogg files of the packages have headers ffmpeg rejects and libsndfile accepts:
        # read the stretch with soundfile and let ffmpeg only resample and remix it.
        with sf.SoundFile(str(path)) as handle:
            handle.seek(int(start * handle.samplerate))
            raw = handle.read(int(seconds * handle.samplerate), dtype="float32", always_2d=True)
            source_rate, source_channels = handle.samplerate, handle.channels
        pipe = ["-f", "f32le", "-ar", str(source_rate), "-ac", str(source_channels), "-i", "-"]
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", *pipe, *convert],
            input=raw.astype("<f4").tobytes(),
            capture_output=True,
            check=True,
        )
    x = np.frombuffer(done.stdout, dtype="<f4").reshape(-1, channels)
    if x.shape[0] < 16:
        # ffmpeg's -t yields nothing for some files made of a single short FLAC frame (a drum
        # hit): decode the whole file and cut the stretch here.
        whole = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *convert],
            capture_output=True,
            check=True,
        )
        x = np.frombuffer(whole.stdout, dtype="<f4").reshape(-1, channels)
        x = x[int(start * rate) : int((start + seconds) * rate) + 1]
    return x


def _run_encoder(cmd: list[str], stdin: bytes, target: Path) -> bytes:
    subprocess.run(cmd, input=stdin, capture_output=True, check=True)
    return target.read_bytes()


def _encode(x: np.ndarray, spec: ClipSpec) -> bytes:
    """Encode float32 (frames, channels) as the clip format and encoder ``spec`` names."""
    container, subtype, rate = spec.container, spec.subtype, spec.rate
    channels = x.shape[1]
    encoder = spec.encoder
    if encoder == "soundfile":
        return threats.encode_pcm(x, sample_rate=rate, container=container, subtype=subtype or "")  # type: ignore[arg-type]
    pcm16 = np.round(x * 32767.0).astype("<i2").tobytes()
    raw_f32 = ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "-"]
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        target = Path(tmp) / f"clip.{container}"
        base = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        if encoder == "ffmpeg" and container == "wav":
            cmd = base + raw_f32 + ["-c:a", _FFMPEG_PCM[subtype or "PCM_16"], str(target)]
        elif encoder == "ffmpeg" and container == "flac":
            fmt = ["-sample_fmt", "s32"] if subtype == "PCM_24" else ["-sample_fmt", "s16"]
            cmd = base + raw_f32 + ["-c:a", "flac", *fmt, str(target)]
        elif encoder == "ffmpeg" and container == "ogg":
            # bitexact: a fixed Ogg serial number, so rebuilding gives the same bytes.
            cmd = base + raw_f32 + ["-c:a", "libvorbis", "-q:a", str(spec.quality)]
            cmd += ["-fflags", "+bitexact", str(target)]
        elif encoder == "ffmpeg" and container == "mp3":
            cmd = base + raw_f32 + ["-c:a", "libmp3lame", "-b:a", f"{spec.kbps}k", str(target)]
        elif encoder == "oggenc":
            cmd = ["oggenc", "-Q", "-r", "-B", "16", "-C", str(channels), "-R", str(rate)]
            cmd += ["-q", str(spec.quality), "-s", str(spec.serial), "-o", str(target), "-"]
            return _run_encoder(cmd, pcm16, target)
        elif encoder == "lame":
            mode = "m" if channels == 1 else "j"
            cmd = ["lame", "--quiet", "-r", "-s", f"{rate / 1000:g}", "--bitwidth", "16"]
            cmd += ["--signed", "--little-endian", "-m", mode, "-b", str(spec.kbps)]
            cmd += ["-", str(target)]
            return _run_encoder(cmd, pcm16, target)
        else:
            raise ValueError(f"no encoder {encoder!r} for {container}")
        return _run_encoder(cmd, x.astype("<f4").tobytes(), target)


def _drive(x: np.ndarray, spec: ClipSpec) -> np.ndarray:
    """Apply a clip's drive (before padding: the master is loud, not its silence)."""
    drive = spec.drive
    if drive is None:
        return x
    gain = np.float32(10 ** (drive.db / 20))
    if drive.mode == "hard":
        return np.clip(x * gain, -1.0, 1.0)
    return np.tanh(x * gain) / np.float32(np.tanh(gain))


def _quantise(x: np.ndarray, spec: ClipSpec) -> np.ndarray:
    """A low-resolution source: rounded to ``bits``, then scaled by ``gain_db`` (normalised)."""
    lowres = spec.lowres
    if lowres is None:
        return x
    steps = np.float32(2 ** (lowres.bits - 1))
    coarse = np.round(x * steps) / steps
    return coarse * np.float32(10 ** (lowres.gain_db / 20))


def _with_cover(data: bytes, image: bytes, container: str) -> bytes:
    """Give a good clip genuine cover art, so pictures in tags are not a sign of bad files."""
    mime = "image/png" if image[:4] == b"\x89PNG" else "image/jpeg"
    if container == "mp3":
        return threats.add_id3_tag(data, image, frame="APIC", mime=mime)
    if container == "flac":
        return threats.add_flac_picture(data, image, mime=mime)
    if container == "ogg":
        return threats.add_vorbis_picture(data, image, mime=mime)
    return data


def clip_maker(spec: ClipSpec, seed: int) -> Callable[[], bytes]:
    """A maker of the clip's bytes: decode the stretch, level, drive, quantise, pad, encode,
    add the cover art. ``seed`` seeds the padding's noise."""

    def make() -> bytes:
        rate, channels = spec.rate, spec.channels
        x = _decode(spec.source, spec.start, spec.seconds, rate, channels)
        if x.shape[0] < 16:
            raise ValueError("decoded clip is empty")
        if float(np.abs(x).max()) < _AUDIBLE_PEAK:
            # A window of silence is no recording; take the opening of the source instead.
            x = _decode(spec.source, 0.0, spec.seconds, rate, channels)
            if x.shape[0] < 16 or float(np.abs(x).max()) < _AUDIBLE_PEAK:
                raise ValueError("source is silent where the clip was cut")
        x = np.clip(x * np.float32(10 ** (spec.gain_db / 20)), -1.0, 1.0)
        x = _quantise(_drive(x, spec), spec)
        pad = spec.pad
        if pad is not None:
            rng = np.random.default_rng([seed, int(spec.start * 1000)])
            lead = np.zeros((int(pad.lead * rate), channels), dtype=np.float32)
            trail = np.zeros((int(pad.trail * rate), channels), dtype=np.float32)
            if pad.noise_dbfs is not None:
                level = np.float32(10 ** (pad.noise_dbfs / 20))
                lead += rng.standard_normal(size=lead.shape, dtype=np.float32) * level
                trail += rng.standard_normal(size=trail.shape, dtype=np.float32) * level
            x = np.concatenate([lead, x, trail])
        data = _encode(x.astype(np.float32), spec)
        if spec.cover is not None:
            data = _with_cover(data, spec.cover.read_bytes(), spec.container)
        return data

    return make
