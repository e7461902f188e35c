"""What converters and DAWs do to audio on its way to an upload, with the real tools.

A :class:`~audioval_corpus.specs.Chain` is drawn from a seed (:func:`draw_chain`) and applied
by :func:`apply_chain`: sox mixes down or up, normalises, drives into clipping or its limiter and
resamples (``rate -v``, 8-96 kHz); lame and oggenc/oggdec make a lossy round trip when the
chain has one; sox then stores 8/16/24-bit PCM (dither off, sox's default TPDF, or its noise
shaping ``dither -s``) or 32-bit float, and flac, lame (CBR 32-320 kbps or VBR -V0..9) and
oggenc (-q -1..10) encode. A detector of held values, white low bits or keyed tones meets
every one of these on a real platform: truncation without dither leaves exact quantiser steps,
dither and noise shaping leave white or blue low bits, a clipped master holds its peak values,
a limiter flattens them, a codec round trip leaves its own low-pass and pre-echo.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from audioval_corpus.seeding import choice
from audioval_corpus.specs import Chain, Dither, Master, Store

__all__ = ["CHAIN_RATES", "STORE_EXTENSIONS", "apply_chain", "chain_variant", "draw_chain"]

CHAIN_RATES: tuple[int, ...] = (
    8000, 11025, 16000, 22050, 32000, 44100, 44100, 44100, 48000, 48000, 48000, 88200, 96000,
)  # fmt: skip
STORE_EXTENSIONS: dict[str, str] = {
    "wav_u8": "wav",
    "wav16": "wav",
    "wav24": "wav",
    "wav_float": "wav",
    "flac16": "flac",
    "flac24": "flac",
    "mp3": "mp3",
    "ogg": "ogg",
}
_STORES: tuple[tuple[Store, float], ...] = (
    ("wav16", 0.24),
    ("wav24", 0.12),
    ("wav_u8", 0.05),
    ("wav_float", 0.06),
    ("flac16", 0.14),
    ("flac24", 0.06),
    ("mp3", 0.19),
    ("ogg", 0.14),
)
_MP3_SETTINGS = ("32", "48", "64", "96", "128", "160", "192", "256", "320", "V0", "V2", "V5", "V9")
_VIA = ("mp3-64", "mp3-128", "mp3-192", "mp3-320", "ogg-q0", "ogg-q3", "ogg-q6")
_WIDTH_ARGS: dict[str, list[str]] = {
    "wav_u8": ["-b", "8", "-e", "unsigned-integer"],
    "wav16": ["-b", "16", "-e", "signed-integer"],
    "wav24": ["-b", "24", "-e", "signed-integer"],
    "wav_float": ["-b", "32", "-e", "floating-point"],
    "flac16": ["-b", "16", "-e", "signed-integer"],
    "flac24": ["-b", "24", "-e", "signed-integer"],
    "mp3": ["-b", "16", "-e", "signed-integer"],
    "ogg": ["-b", "24", "-e", "signed-integer"],
}


def draw_chain(
    rng: np.random.Generator,
    *,
    level: tuple[float, float] | None = None,
    rates: tuple[int, ...] = CHAIN_RATES,
    channels: tuple[int, ...] = (1, 2),
) -> Chain:
    """A converter chain drawn from ``rng``: mostly loud masters near full scale, one in seven
    quiet (-50 to -25 dBFS), or ``level`` (a dBFS range) when the kind has its own."""
    if level is None:
        level = (-50.0, -25.0) if rng.random() < 1 / 7 else (-6.0, -0.1)
    level_db = round(float(rng.uniform(*level)), 1)
    master: Master = "none"
    drive = 0.0
    if level_db > -12:
        master = choice(rng, ("none", "none", "none", "none", "hard_clip", "limit"))
        drive = round(float(rng.uniform(1, 9) if master == "hard_clip" else rng.uniform(3, 12)), 1)
        drive = drive if master != "none" else 0.0
    store: Store = choice(rng, [s for s, _ in _STORES], [w for _, w in _STORES])
    setting: str | None = None
    if store == "mp3":
        setting = choice(rng, _MP3_SETTINGS)
    elif store == "ogg":
        setting = str(int(rng.integers(-1, 11)))
    elif store.startswith("flac"):
        setting = str(int(rng.integers(0, 9)))
    dither: Dither = "none" if store == "wav_float" else choice(rng, ("none", "tpdf", "shaped"))
    return Chain(
        rate=int(choice(rng, rates)),
        channels=int(choice(rng, channels)),
        level_db=level_db,
        master=master,
        drive_db=drive,
        via=choice(rng, _VIA) if rng.random() < 0.2 else None,
        store=store,
        setting=setting,
        dither=dither,
    )


def chain_variant(chain: Chain) -> str:
    """The chain in a few words: ``48k stereo wav24 tpdf, -3 dBFS limit +6 dB via mp3-128``."""
    rate = f"{chain.rate / 1000:g}k"
    store = chain.store + (f" {chain.setting}" if chain.store in ("mp3", "ogg") else "")
    words = [rate, "stereo" if chain.channels == 2 else "mono", store]
    if chain.store not in ("mp3", "ogg", "wav_float"):
        words.append(f"dither {chain.dither}")
    words.append(f"{chain.level_db:+.0f} dBFS")
    if chain.master != "none":
        words.append(f"{chain.master} +{chain.drive_db:g} dB")
    if chain.via:
        words.append(f"via {chain.via}")
    return " ".join(words)


def _run(cmd: list[str]) -> None:
    if cmd[0] == "sox":  # repeatable mode: sox seeds its dither alike every run
        cmd = ["sox", "-R", *cmd[1:]]
    subprocess.run(cmd, capture_output=True, check=True, timeout=300)


def _sox_dither(chain: Chain) -> tuple[list[str], list[str]]:
    """sox's global options and trailing effects for the chain's dither."""
    if chain.dither == "tpdf":
        return [], []  # sox dithers (TPDF) by itself whenever the output is narrower
    if chain.dither == "shaped":
        return ["-D"], ["dither", "-s"]
    return ["-D"], []


def apply_chain(x: np.ndarray, rate: int, chain: Chain) -> tuple[bytes, str]:
    """``x`` (float, frames x channels, at ``rate``) through ``chain``: the file's bytes and
    its extension."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    with tempfile.TemporaryDirectory(prefix="chain-") as name:
        tmp = Path(name)
        src, mixed = tmp / "src.wav", tmp / "mixed.wav"
        sf.write(src, x, rate, subtype="FLOAT")
        # mix, level and master at the source's rate, in float (no width lost yet)
        fx = ["channels", str(chain.channels), "gain", "-n", f"{chain.level_db:g}"]
        if chain.master == "limit":
            fx += ["gain", "-l", f"{chain.drive_db:g}"]
        elif chain.master == "hard_clip":
            fx += ["gain", f"{chain.drive_db:g}"]
        _run(["sox", "-D", str(src), "-e", "floating-point", "-b", "32", str(mixed), *fx])
        if chain.master == "hard_clip":  # the overs a fixed-point bus clips
            y, _ = sf.read(mixed, dtype="float64", always_2d=True)
            sf.write(mixed, np.clip(y, -1.0, 1.0), rate, subtype="FLOAT")
        resampled = tmp / "resampled.wav"
        _run(["sox", "-D", str(mixed), "-e", "floating-point", "-b", "32", str(resampled)]
             + ["rate", "-v", str(chain.rate)] * (chain.rate != rate))  # fmt: skip
        stage = resampled
        if chain.via:
            stage = _round_trip(resampled, chain.via, tmp)
        options, effects = _sox_dither(chain)
        pcm = tmp / "pcm.wav"
        final_rate = (
            ["rate", "-v", str(chain.rate)] if sf.info(stage).samplerate != chain.rate else []
        )
        _run(["sox", *options, str(stage), *_WIDTH_ARGS[chain.store], str(pcm), *final_rate, *effects])  # fmt: skip
        ext = STORE_EXTENSIONS[chain.store]
        if ext == "wav":
            return pcm.read_bytes(), ext
        out = tmp / f"out.{ext}"
        if ext == "flac":
            _run(["flac", "--silent", f"-{chain.setting or 5}", "-o", str(out), str(pcm)])
        elif ext == "mp3":
            setting = chain.setting or "128"
            rate_args = ["-V", setting[1:]] if setting.startswith("V") else ["-b", setting]
            _run(["lame", "--quiet", *rate_args, str(pcm), str(out)])
        else:
            _run(["oggenc", "-Q", "-q", chain.setting or "3", "-s", "1", "-o", str(out), str(pcm)])
        return out.read_bytes(), ext


def _round_trip(wav: Path, via: str, tmp: Path) -> Path:
    """``wav`` encoded lossily and decoded back (at the rate the encoder chose)."""
    codec, setting = via.split("-", 1)
    pcm, coded, back = tmp / "via-in.wav", tmp / f"via.{codec}", tmp / "via-out.wav"
    _run(["sox", str(wav), "-b", "16", "-e", "signed-integer", str(pcm)])
    if codec == "mp3":
        _run(["lame", "--quiet", "-b", setting, str(pcm), str(coded)])
        _run(["lame", "--quiet", "--decode", str(coded), str(back)])
    else:
        q = setting.removeprefix("q")
        _run(["oggenc", "-Q", "-q", q, "-s", "1", "-o", str(coded), str(pcm)])
        _run(["oggdec", "-Q", "-o", str(back), str(coded)])
    return back
