"""One PNG per judged file, for a person: waveform, spectrogram, low-bit plane, bytes, findings.

``audioval validate --plot DIR`` calls :func:`plot_track` once per input with the JSON object it
printed; the review console calls it with the same object made from a stored verdict. The picture shows what the verdict rests on: a real recording has a waveform with
dynamics, a spectrogram with harmonics and a falling high end, a low-bit plane with structure in
quiet passages and a byte histogram dominated by small sample values; data dressed up as audio
shows a flat, dense waveform, a flat spectrum up to Nyquist, uniform-noise (or text-striped) low
bits and a byte histogram peaked on printable ASCII or flat at 8 bits/byte.

Drawing uses matplotlib's object-oriented :class:`~matplotlib.figure.Figure` (rendered by Agg),
never pyplot, so no global figure state is kept and the function is safe in threads and worker
processes. Reading is bounded: audio in blocks (the whole file for the waveform, at most the
first minute for the spectrogram), the low bits of the first 64 Ki samples, the bytes in chunks.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import textwrap
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from audiomodel.payload import describe_size

__all__ = ["plot_filename", "plot_track"]

FloatArray = npt.NDArray[np.float32]

_FIG_SIZE = (12.0, 9.0)  # inches
_DPI = 100
_WAVE_BINS = 1200  # envelope bins over the whole file, about one per pixel column
_BLOCK_FRAMES = 1 << 16
_SMALL_BLOCK_FRAMES = 1 << 10
_FLOAT_BOUND = 1e6  # float samples are clipped to this (full scale is 1) before any arithmetic  # after a decode error, to get as close to the damage as we can
_WAVE_MAX_SECONDS = 4 * 3600.0  # beyond this the waveform shows only the start (bounded time)
_SPEC_SECONDS = 60.0
_SPEC_N_FFT = 2048
_SPEC_MAX_COLUMNS = 1600  # frames are max-pooled down to this, so short bursts stay visible
_SPEC_FLOOR_DB = -120.0
_LSB_SAMPLES = 1 << 16
_LSB_ROW = 256
_CLOCK_STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)  # seconds between ticks
_HIST_CHUNK = 8 << 20
_HIST_MAX_BYTES = 1 << 30
_DUMP_BYTES = 256  # shown as a hex dump when the file is not decodable audio
_DUMP_ROW = 32

_VERDICT_COLOURS = {"accept": "#2e7d32", "review": "#ef6c00", "reject": "#c62828"}
_SEVERITY_COLOURS = {"malicious": "#c62828", "suspicious": "#ef6c00", "info": "#455a64"}
_SEVERITY_RANK = {"malicious": 0, "suspicious": 1, "info": 2}
# Integer PCM subtypes and their bit depth: soundfile returns them left-aligned in int32.
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def plot_filename(path: Path, sha256: str | None) -> str:
    """The PNG's file name for ``path``: ``<safe stem>-<first 8 hex of sha256>.png``.

    The stem is folded to ASCII, runs of anything but letters, digits, ``.``, ``_`` and ``-``
    become ``_``, leading/trailing ``._-`` are dropped (no hidden or option-like names) and it is
    cut to 64 characters (``track`` if nothing is left). The hash is the content's sha256 as the
    verdict reports it; a file that could not be hashed (unreadable, so no valid sha256) uses the
    sha256 of its path instead, so distinct unreadable inputs still get distinct names.
    """
    folded = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE_NAME.sub("_", folded).strip("._-")[:64].rstrip("._-") or "track"
    digest = (sha256 or "").lower()
    if not _SHA256_HEX.fullmatch(digest):
        digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{stem}-{digest[:8]}.png"


def plot_track(path: Path, result: Mapping[str, Any], out_dir: Path) -> Path:
    """Draw one PNG (1200x900 px) about ``path`` and its verdict into ``out_dir``.

    Parameters
    ----------
    path
        The judged file; read again here (bounded, see the module docstring).
    result
        The JSON object ``audioval validate`` printed for it (``verdict``, ``label``, ``score``,
        ``findings``, ``format``, ``size_bytes``, ``sha256``, ...); missing keys are tolerated.
    out_dir
        Existing directory; the file is named by :func:`plot_filename` and replaced atomically.

    Returns
    -------
    Path
        The PNG written. A file that is not decodable audio (or not readable at all) still gets a
        picture: the panels that need audio say why they are empty. Only failing to write the
        PNG itself raises (``OSError``).
    """
    raw = _read_bytes(path)
    # A file that cannot be opened at all gets the OS's reason, not libsndfile's "System error".
    audio = _read_audio(path) if isinstance(raw, _Bytes) else "not decodable: " + raw

    fig = Figure(figsize=_FIG_SIZE, dpi=_DPI)
    grid = fig.add_gridspec(
        3,
        3,
        height_ratios=(1.0, 1.45, 1.55),
        left=0.055,
        right=0.985,
        top=0.87,
        bottom=0.065,
        hspace=0.42,
        wspace=0.22,
    )
    _draw_header(fig, path, result, audio)
    if isinstance(audio, str) and isinstance(raw, _Bytes) and raw.head:
        _draw_hexdump(fig.add_subplot(grid[0, :]), raw.head, audio)
    else:
        _draw_waveform(fig.add_subplot(grid[0, :]), audio)
    _draw_spectrogram(fig, fig.add_subplot(grid[1, :2]), audio)
    _draw_lsb_plane(fig.add_subplot(grid[1, 2]), audio)
    _draw_byte_histogram(fig.add_subplot(grid[2, 0]), raw)
    _draw_findings(fig.add_subplot(grid[2, 1:]), result.get("findings"))
    _draw_footer(fig, path, result)

    target = out_dir / plot_filename(path, _text(result.get("sha256"), ""))
    # Write beside the target and rename, so a reader never sees a half-written PNG.
    # (An exclusive open rather than tempfile, whose files are private: the PNG gets the umask.)
    tmp_path = out_dir / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with tmp_path.open("xb") as tmp:
            fig.savefig(tmp, format="png", dpi=_DPI)
        tmp_path.replace(target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    fig.clear()
    return target


# -- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Audio:
    """What the panels need from the decoded audio; ``error`` says why a part is missing."""

    samplerate: int
    channels: int
    subtype: str
    frames_read: int
    wave_channels: int  # rows in the envelope: 1 (mono or mix of >2) or 2
    bin_frames: int  # frames per envelope bin
    env_min: FloatArray  # (wave_channels, bins) in [-1, 1]
    env_max: FloatArray
    env_rms: FloatArray
    head: FloatArray  # mono mix of at most the first _SPEC_SECONDS, float32
    lsb: npt.NDArray[np.uint8] | None  # (rows, _LSB_ROW) of 0/1, interleaved sample order
    lsb_note: str
    error: str | None  # decoding stopped early, and why
    capped: bool  # the waveform stops at _WAVE_MAX_SECONDS


class _Envelope:
    """Min/max/RMS per bin of frames over a stream of blocks, in bounded memory.

    Bins start at ``ceil(frames_hint / target)`` frames; when the stream is longer than its
    header said (or gave no length), adjacent bins are merged pairwise, so at most
    ``2 * target`` bins are ever held whatever the real length.
    """

    def __init__(self, channels: int, frames_hint: int, target: int) -> None:
        self.bin_frames = max(1, math.ceil(frames_hint / target)) if frames_hint > 0 else 1024
        self.capacity = 2 * target
        self.mins = np.full((channels, self.capacity), np.inf, dtype=np.float32)
        self.maxs = np.full((channels, self.capacity), -np.inf, dtype=np.float32)
        self.sumsq = np.zeros((channels, self.capacity), dtype=np.float64)
        self.frames = 0

    def _halve(self) -> None:
        shape = (self.mins.shape[0], self.capacity // 2, 2)
        half = self.capacity // 2
        self.mins[:, :half] = self.mins.reshape(shape).min(axis=2)
        self.maxs[:, :half] = self.maxs.reshape(shape).max(axis=2)
        self.sumsq[:, :half] = self.sumsq.reshape(shape).sum(axis=2)
        self.mins[:, half:] = np.inf
        self.maxs[:, half:] = -np.inf
        self.sumsq[:, half:] = 0.0
        self.bin_frames *= 2

    def add(self, block: FloatArray) -> None:
        """Fold a ``(frames, channels)`` block that follows the previous one."""
        n = block.shape[0]
        if n == 0:
            return
        start = self.frames
        while (start + n - 1) // self.bin_frames >= self.capacity:
            self._halve()
        first = start // self.bin_frames
        last = (start + n - 1) // self.bin_frames
        # Offsets in the block where each bin begins; the first bin may have started earlier.
        offsets = np.concatenate(
            ([0], np.arange(first + 1, last + 1, dtype=np.int64) * self.bin_frames - start)
        )
        bins = np.arange(first, last + 1)
        self.mins[:, bins] = np.minimum(
            self.mins[:, bins], np.minimum.reduceat(block, offsets, axis=0).T
        )
        self.maxs[:, bins] = np.maximum(
            self.maxs[:, bins], np.maximum.reduceat(block, offsets, axis=0).T
        )
        self.sumsq[:, bins] += np.add.reduceat(
            np.square(block, dtype=np.float64), offsets, axis=0
        ).T
        self.frames += n

    def result(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(min, max, rms), each ``(channels, bins used)``."""
        used = math.ceil(self.frames / self.bin_frames)
        counts = np.full(used, self.bin_frames, dtype=np.float64)
        if used:
            counts[-1] = self.frames - (used - 1) * self.bin_frames
        rms = np.sqrt(self.sumsq[:, :used] / counts).astype(np.float32)
        return self.mins[:, :used].copy(), self.maxs[:, :used].copy(), rms


# soundfile raises LibsndfileError (a RuntimeError) for bytes it cannot decode, OSError for files
# it cannot open and ValueError/TypeError for headers it rejects before libsndfile sees them.
_DECODE_ERRORS = (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError)


def _read_audio(path: Path) -> _Audio | str:
    """Decode ``path`` in blocks; a string says why it is not decodable audio at all."""
    try:
        snd = sf.SoundFile(path)
    except _DECODE_ERRORS as err:
        return f"not decodable as audio: {_one_line(err)}"
    with snd:
        sr = int(snd.samplerate)
        channels = int(snd.channels)
        if sr <= 0 or channels <= 0:
            return f"not decodable as audio: {sr} Hz, {channels} channels"
        subtype = str(snd.subtype)
        frames_hint = int(snd.frames) if snd.frames and snd.frames > 0 else 0
        max_frames = int(_WAVE_MAX_SECONDS * sr)
        wave_channels = 2 if channels == 2 else 1
        envelope = _Envelope(wave_channels, min(frames_hint, max_frames), _WAVE_BINS)
        head_frames = int(_SPEC_SECONDS * sr)
        head_parts: list[FloatArray] = []
        head_len = 0
        error: str | None = None
        nonfinite = 0
        try:
            for block in _blocks(snd, max_frames, "float32"):
                if subtype not in _PCM_BITS:
                    nonfinite += _sanitise(block)
                mono = block.mean(axis=1, dtype=np.float32)
                if channels > 2:
                    block = mono[:, None]  # more than two rows would be unreadable at this size
                envelope.add(block)
                if head_len < head_frames:
                    head_parts.append(mono[: head_frames - head_len])
                    head_len += head_parts[-1].shape[0]
        except _DECODE_ERRORS as err:
            error = f"decoding stopped after {envelope.frames / sr:.2f} s: {_one_line(err)}"
        capped = envelope.frames >= max_frames and frames_hint > max_frames
    if nonfinite:
        note = f"{nonfinite:,} NaN/inf samples drawn as 0"
        error = f"{error}; {note}" if error else note
    # A fresh decoder: after an error the first one often cannot seek back to the start.
    lsb, lsb_note = _read_lsb(path, subtype)
    env_min, env_max, env_rms = envelope.result()
    head = np.concatenate(head_parts) if head_parts else np.zeros(0, dtype=np.float32)
    return _Audio(
        samplerate=sr,
        channels=channels,
        subtype=subtype,
        frames_read=envelope.frames,
        wave_channels=wave_channels,
        bin_frames=envelope.bin_frames,
        env_min=env_min,
        env_max=env_max,
        env_rms=env_rms,
        head=head,
        lsb=lsb,
        lsb_note=lsb_note,
        error=error,
        capped=capped,
    )


def _sanitise(block: FloatArray) -> int:
    """Zero NaN/inf and bound the rest (float formats hold anything), in place; count the bad.

    Without this one NaN blanks a whole envelope bin and spectrogram frame, and huge values
    overflow float32 sums into warnings.
    """
    finite = np.isfinite(block)
    bad = block.size - int(np.count_nonzero(finite))
    if bad:
        block[~finite] = 0.0
    np.clip(block, -_FLOAT_BOUND, _FLOAT_BOUND, out=block)
    return bad


def _blocks(snd: sf.SoundFile, max_frames: int, dtype: str) -> Iterator[npt.NDArray[Any]]:
    """``(frames, channels)`` blocks of ``dtype`` from the current position, up to ``max_frames``.

    A decoder error loses the whole read that hit it, so after the first one the read is retried
    from the same frame in small blocks: the audio before a damaged or truncated spot is still
    shown. Decoding then stops where it really fails, with the decoder's first complaint (later
    ones are usually its seek or resync failing, which says less).
    """
    done = 0
    start = snd.tell()
    size = _BLOCK_FRAMES
    first_error: Exception | None = None
    while done < max_frames:
        try:
            block = np.asarray(snd.read(min(size, max_frames - done), dtype=dtype, always_2d=True))
        except _DECODE_ERRORS as err:
            if first_error is not None or not snd.seekable():
                raise (first_error or err) from None
            first_error = err
            size = _SMALL_BLOCK_FRAMES
            try:
                snd.seek(start + done)
            except _DECODE_ERRORS:
                raise err from None
            continue
        if block.shape[0] == 0:
            return
        done += block.shape[0]
        yield block


def _read_lsb(path: Path, subtype: str) -> tuple[npt.NDArray[np.uint8] | None, str]:
    """Least significant bits of the first ``_LSB_SAMPLES`` samples, in file (interleaved) order."""
    bits = _PCM_BITS.get(subtype)
    if bits is None:
        return None, f"no low-bit plane: {subtype} is not integer PCM"
    parts: list[npt.NDArray[np.int32]] = []
    try:
        with sf.SoundFile(path) as snd:
            frames = math.ceil(_LSB_SAMPLES / snd.channels)
            parts.extend(b.reshape(-1) for b in _blocks(snd, frames, "int32"))
    except _DECODE_ERRORS as err:
        if not parts:
            return None, f"no low-bit plane: {_one_line(err)}"
    ints = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    rows = min(ints.size, _LSB_SAMPLES) // _LSB_ROW
    if rows == 0:
        return None, f"no low-bit plane: only {ints.size} samples"
    # soundfile left-aligns every integer depth in int32, so the file's LSB is bit (32 - bits).
    plane = (ints[: rows * _LSB_ROW] >> (32 - bits)) & 1
    return plane.astype(np.uint8).reshape(rows, _LSB_ROW), f"{bits}-bit"


@dataclass(slots=True)
class _Bytes:
    """The file's bytes in summary: a histogram and its first bytes."""

    counts: npt.NDArray[np.int64]  # (256,) occurrences of each byte value
    total: int  # bytes counted
    capped: bool  # the file goes on past _HIST_MAX_BYTES
    head: bytes  # the first _DUMP_BYTES


def _read_bytes(path: Path) -> _Bytes | str:
    """Byte histogram of the file (chunk by chunk), or why the file could not be read."""
    counts = np.zeros(256, dtype=np.int64)
    total = 0
    head = b""
    try:
        with path.open("rb") as stream:
            while total < _HIST_MAX_BYTES:
                chunk = stream.read(min(_HIST_CHUNK, _HIST_MAX_BYTES - total))
                if not chunk:
                    break
                head = head or chunk[:_DUMP_BYTES]
                counts += np.bincount(np.frombuffer(chunk, dtype=np.uint8), minlength=256)
                total += len(chunk)
            capped = total >= _HIST_MAX_BYTES and bool(stream.read(1))
    except OSError as err:
        return f"could not read the file: {err.strerror or _one_line(err)}"
    return _Bytes(counts=counts, total=total, capped=capped, head=head)


# -- drawing -----------------------------------------------------------------------------------


def _draw_header(fig: Figure, path: Path, result: Mapping[str, Any], audio: _Audio | str) -> None:
    verdict = _text(result.get("verdict"), "?")
    colour = _VERDICT_COLOURS.get(verdict.lower(), "#616161")
    fig.text(
        0.012,
        0.962,
        f" {verdict.upper()} ",
        color="white",
        fontsize=15,
        fontweight="bold",
        va="center",
        family="DejaVu Sans Mono",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": colour},
    )
    fig.text(
        0.118,
        0.962,
        _ellipsize(path.name or str(path), 80),
        fontsize=15,
        fontweight="bold",
        va="center",
    )
    facts = [f"label {_text(result.get('label'), '?')}"]
    score = result.get("score")
    facts.append(f"score {score:.3f}" if isinstance(score, int | float) else "score ?")
    facts.append(f"format {_text(result.get('format'), '?')}")
    size = result.get("size_bytes")
    facts.append(describe_size(size) if isinstance(size, int) else "size ?")
    if isinstance(audio, _Audio):
        facts.append(
            f"{audio.samplerate / 1000:g} kHz, {audio.channels} ch, {audio.subtype}, "
            f"{_clock(audio.frames_read / audio.samplerate)}"
        )
    fig.text(0.012, 0.915, "   ·   ".join(facts), fontsize=11.5, va="center", color=colour)


def _draw_footer(fig: Figure, path: Path, result: Mapping[str, Any]) -> None:
    timings = result.get("timings_ms")
    total = timings.get("total") if isinstance(timings, Mapping) else None
    parts = [
        _ellipsize(str(path), 70),
        f"sha256 {_text(result.get('sha256'), '') or '-'}",
        f"model {_text(result.get('model_version'), '?')}",
    ]
    if isinstance(total, int | float):
        parts.append(f"judged in {total:.0f} ms")
    fig.text(0.012, 0.012, "   ".join(parts), fontsize=7.5, color="#616161")


def _draw_waveform(ax: Axes, audio: _Audio | str) -> None:
    if isinstance(audio, str):
        _empty(ax, "Waveform", audio)
        return
    duration = audio.frames_read / audio.samplerate
    title = "Waveform (min/max per column, RMS darker)"
    if audio.channels > 2:
        title += f", mix of {audio.channels} channels"
    if audio.capped:
        title += f", first {_clock(duration)} only"
    if audio.error:
        title += f" — {audio.error}"
    if audio.frames_read == 0:
        _empty(ax, _ellipsize(title, 150), "no audio frames decoded")
        return
    ax.set_title(_ellipsize(title, 150), fontsize=10, loc="left")
    bins = audio.env_min.shape[1]
    t = (np.arange(bins) + 0.5) * (audio.bin_frames / audio.samplerate)
    t[-1] = min(t[-1], duration)
    # Two channels are stacked (L above R), each in its own [-1, 1] band.
    offsets = (1.0, -1.0) if audio.wave_channels == 2 else (0.0,)
    for row, offset in enumerate(offsets):
        ax.fill_between(
            t,
            audio.env_min[row] + offset,
            audio.env_max[row] + offset,
            color="#90caf9",
            linewidth=0,
            step="mid",
        )
        ax.fill_between(
            t,
            offset - audio.env_rms[row],
            offset + audio.env_rms[row],
            color="#1565c0",
            linewidth=0,
            step="mid",
        )
        ax.axhline(offset, color="#455a64", linewidth=0.4)
    if audio.wave_channels == 2:
        ax.set_ylim(-2.05, 2.05)
        ax.set_yticks([1.0, -1.0], ["L", "R"])
        ax.axhline(0.0, color="#b0bec5", linewidth=0.8)
    else:
        ax.set_ylim(-1.05, 1.05)
        ax.set_yticks([-1.0, 0.0, 1.0])
    ax.set_xlim(0.0, duration)
    _set_time_axis(ax, duration)
    ax.tick_params(labelsize=8)
    ax.margins(x=0)


def _draw_hexdump(ax: Axes, head: bytes, why: str) -> None:
    """In place of the waveform of an undecodable file: what its first bytes are."""
    ax.set_title(_ellipsize(f"First {len(head)} bytes — {why}", 150), fontsize=10, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])
    rows = []
    for offset in range(0, len(head), _DUMP_ROW):
        row = head[offset : offset + _DUMP_ROW]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        rows.append(f"{offset:08x}  {row.hex(' '):<{_DUMP_ROW * 3}} |{text}|")
    ax.text(
        0.01,
        0.95,
        "\n".join(rows),
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=7.5,
        family="DejaVu Sans Mono",
        color="#212121",
        linespacing=1.25,
    )


def _draw_spectrogram(fig: Figure, ax: Axes, audio: _Audio | str) -> None:
    if isinstance(audio, str):
        _empty(ax, "Spectrogram", "no audio decoded")
        return
    head = audio.head
    seconds = head.size / audio.samplerate
    spec = _spectrogram_db(head)
    if spec is None:
        _empty(ax, "Spectrogram", f"too short for a spectrogram ({head.size} frames)")
        return
    ax.set_title(f"Spectrogram, first {_clock(seconds)} (mono mix, dBFS)", fontsize=10, loc="left")
    image = ax.imshow(
        spec.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=_SPEC_FLOOR_DB,
        vmax=0.0,
        extent=(0.0, seconds, 0.0, audio.samplerate / 2000.0),
        interpolation="antialiased",
    )
    ax.set_ylabel("kHz", fontsize=9)
    _set_time_axis(ax, seconds)
    ax.tick_params(labelsize=8)
    bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    bar.ax.tick_params(labelsize=7)


def _spectrogram_db(x: FloatArray) -> FloatArray | None:
    """Hann-windowed STFT magnitude in dBFS, ``(columns, n_fft // 2 + 1)``, or None if too short.

    Frames hop by half a window; when there are more than ``_SPEC_MAX_COLUMNS`` of them, groups
    of adjacent frames are max-pooled so a short burst (a payload, a click) is not decimated away.
    Computed chunk by chunk so memory stays bounded for high sample rates.
    """
    if x.size < 64:
        return None
    n_fft = min(_SPEC_N_FFT, 1 << int(math.log2(x.size)))
    hop = n_fft // 2
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    window = np.hanning(n_fft).astype(np.float32)
    scale = np.float32(2.0 / window.sum())  # a full-scale sine reads 0 dBFS
    group = max(1, math.ceil(frames.shape[0] / _SPEC_MAX_COLUMNS))
    step = group * max(1, 256 // group)
    columns: list[FloatArray] = []
    for begin in range(0, frames.shape[0], step):
        chunk = frames[begin : begin + step] * window
        mag = np.abs(np.fft.rfft(chunk, axis=1)).astype(np.float32) * scale
        db = (20.0 * np.log10(np.maximum(mag, 1e-7))).astype(np.float32)
        pad = (-db.shape[0]) % group
        if pad:
            db = np.concatenate([db, np.full((pad, db.shape[1]), _SPEC_FLOOR_DB, np.float32)])
        columns.append(db.reshape(-1, group, db.shape[1]).max(axis=1))
    return np.concatenate(columns)


def _draw_lsb_plane(ax: Axes, audio: _Audio | str) -> None:
    if isinstance(audio, str):
        _empty(ax, "Low-bit plane", "no audio decoded")
        return
    if audio.lsb is None:
        _empty(ax, "Low-bit plane", audio.lsb_note)
        return
    plane = audio.lsb
    ones = float(plane.mean()) * 100.0
    ax.set_title(f"Low-bit plane: {ones:.1f}% ones", fontsize=10, loc="left")
    ax.imshow(plane, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="equal")
    ax.set_xlabel(
        f"LSB of the first {plane.size:,} samples ({audio.lsb_note}),\n"
        f"{_LSB_ROW} per row, file order; white = 1",
        fontsize=8,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_byte_histogram(ax: Axes, raw: _Bytes | str) -> None:
    if isinstance(raw, str):
        _empty(ax, "Byte histogram", raw)
        return
    counts, total, capped = raw.counts, raw.total, raw.capped
    if total == 0:
        _empty(ax, "Byte histogram", "the file is empty")
        return
    p = counts[counts > 0] / total
    entropy = float(-(p * np.log2(p)).sum())
    printable = float(counts[0x20:0x7F].sum() + counts[[0x09, 0x0A, 0x0D]].sum()) / total * 100
    scope = f"first {describe_size(total)}" if capped else describe_size(total)
    ax.set_title(
        f"Bytes ({scope}): {entropy:.2f} bits/byte, {printable:.0f}% text",
        fontsize=9.5,
        loc="left",
    )
    values = np.arange(256)
    is_text = (values >= 0x20) & (values < 0x7F)
    edges = np.arange(257) - 0.5
    floor = 0.8  # the log axis' bottom: empty byte values draw nothing
    # Two filled step artists, not 256 bars: one patch each renders ~10x faster.
    for mask, colour in ((~is_text, "#546e7a"), (is_text, "#fb8c00")):
        heights = np.where(mask, np.maximum(counts, floor), floor)
        ax.stairs(heights, edges, baseline=floor, fill=True, color=colour, linewidth=0)
    ax.set_yscale("log")
    ax.set_ylim(floor, max(float(counts.max()), 1.0) * 3.0)
    ax.set_xlim(-0.5, 255.5)
    ax.set_xticks([0, 0x40, 0x80, 0xC0, 0xFF], ["00", "40", "80", "C0", "FF"])
    ax.set_xlabel("byte value (hex); orange = printable ASCII", fontsize=8)
    ax.tick_params(labelsize=8)


def _draw_findings(ax: Axes, findings: object) -> None:
    """Findings, heaviest first, as coloured monospace lines wrapped to the panel's width."""
    ax.set_axis_off()
    items = [f for f in findings if isinstance(f, Mapping)] if isinstance(findings, list) else []
    items.sort(key=lambda f: _SEVERITY_RANK.get(_text(f.get("severity"), ""), 3))
    ax.set_title(f"Findings ({len(items)})", fontsize=10, loc="left")
    fontsize = 8.0
    box = ax.get_position()
    fig_w, fig_h = _FIG_SIZE
    # Monospace glyphs are 0.6 em wide, lines 1.3 em apart: wrap and paginate exactly.
    width = max(20, int(box.width * fig_w * 72 / (fontsize * 0.6)) - 1)
    line_h = fontsize * 1.3 / 72 / (box.height * fig_h)
    capacity = int(1.0 / line_h)
    lines: list[tuple[str, str, str]] = []  # (text, colour, weight)
    for item in items:
        severity = _text(item.get("severity"), "?")
        colour = _SEVERITY_COLOURS.get(severity, "#212121")
        code = _text(item.get("code"), "?")
        lines.append((_ellipsize(f"{severity.upper():<10} {code}", width), colour, "bold"))
        for text in textwrap.wrap(_text(item.get("message"), ""), width - 2) or [""]:
            lines.append(("  " + text, "#212121", "normal"))
        evidence = item.get("evidence")
        if isinstance(evidence, Mapping) and evidence:
            pairs = "  ".join(f"{k}={_ellipsize(str(v), 40)}" for k, v in evidence.items())
            for text in textwrap.wrap(pairs, width - 2, max_lines=2, placeholder=" …"):
                lines.append(("  " + text, "#757575", "normal"))
    if not lines:
        _note(ax, "no findings")
        return
    if len(lines) > capacity:
        hidden = sum(1 for _, _, w in lines[capacity - 1 :] if w == "bold")
        lines = lines[: capacity - 1]
        lines.append((f"… {hidden} more finding(s) in the JSON output", "#757575", "normal"))
    for row, (text, colour, weight) in enumerate(lines):
        ax.text(
            0.0,
            1.0 - row * line_h,
            text,
            transform=ax.transAxes,
            va="top",
            fontsize=fontsize,
            family="DejaVu Sans Mono",
            color=colour,
            fontweight=weight,
        )


# -- small pieces ------------------------------------------------------------------------------


def _empty(ax: Axes, title: str, why: str) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])
    _note(ax, why)


def _note(ax: Axes, text: str) -> None:
    wrapped = "\n".join(textwrap.wrap(text, 60, max_lines=4, placeholder=" …"))
    ax.text(
        0.5,
        0.5,
        wrapped,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=9,
        color="#616161",
        style="italic",
    )


def _text(value: object, default: str) -> str:
    return value if isinstance(value, str) else default


def _one_line(err: BaseException) -> str:
    """The error on one line; libsndfile's own message without the path the title already shows."""
    text = getattr(err, "error_string", None) or str(err)
    return " ".join(str(text).split()) or type(err).__name__


def _ellipsize(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[: keep - keep // 3] + "…" + text[len(text) - keep // 3 :]


def _clock(seconds: float) -> str:
    """``250 ms`` below a second, ``42.0 s`` below two minutes, else ``m:ss`` or ``h:mm:ss``."""
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds:.1f} s" if seconds < 120 else _hms(seconds)


def _hms(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _set_time_axis(ax: Axes, duration: float) -> None:
    """Seconds for short tracks; ``m:ss`` on whole-minute-friendly steps for long ones."""
    if duration < 120:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g} s"))
        return
    step = next((s for s in _CLOCK_STEPS if duration / s <= 10), _CLOCK_STEPS[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _hms(v)))
