"""Good files: clips cut from the real recordings (drawn rate, format, encoder, level, padding
and renditions) and Debian files copied as they are."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from audioval_corpus.debian import AudioSource
from audioval_corpus.plan.items import Item, PlanContext, StreamInfo, item_name
from audioval_corpus.rendering import clip_maker, probe_duration
from audioval_corpus.seeding import choice, keyed_rng, spec_digest
from audioval_corpus.specs import CLIP_FORMATS, ClipSpec, Drive, LowRes, Pad, identity

__all__ = ["RATE_WEIGHTS", "SAMPLE_RATES", "draw_clip_spec", "plan_clips", "plan_originals"]

SAMPLE_RATES = (8000, 16000, 22050, 44100, 48000, 96000)
RATE_WEIGHTS = (0.07, 0.14, 0.16, 0.31, 0.24, 0.08)


def draw_clip_spec(
    rng: np.random.Generator,
    source: AudioSource,
    duration: float,
    clip_seconds: tuple[float, float],
) -> ClipSpec:
    """Draw everything about one clip: stretch, rate, channels, format, encoder, level, padding."""
    lo, hi = clip_seconds
    seconds = float(rng.uniform(0.5, 3.0)) if rng.random() < 0.25 else float(rng.uniform(lo, hi))
    seconds = min(seconds, duration)
    start = float(rng.uniform(0.0, max(0.0, duration - seconds)))
    fmt = choice(rng, list(CLIP_FORMATS), [w for *_, w in CLIP_FORMATS.values()])
    rate = int(choice(rng, SAMPLE_RATES, RATE_WEIGHTS))
    container = CLIP_FORMATS[fmt][0]
    if container == "mp3":
        rate = min(rate, 48000)
    if rate >= 96000:
        seconds = min(seconds, 10.0)  # 96 kHz files are large; keep them short
    channels = int(choice(rng, (1, 2)))
    gain_db = round(float(rng.uniform(-10.0, 0.0)), 2)
    pad = None
    if rng.random() < 0.2:
        lead = round(float(rng.uniform(0.0, 2.0)), 3)
        trail = round(float(rng.uniform(0.2, 2.0)), 3)
        noise = None if rng.random() < 0.7 else round(float(rng.uniform(-80, -60)), 1)
        pad = Pad(lead=lead, trail=trail, noise_dbfs=noise)
    quality = serial = kbps = None
    if container in ("wav", "flac"):
        encoder = "soundfile" if rng.random() < 0.7 else "ffmpeg"
    elif container == "ogg":
        encoder = choice(rng, ("ffmpeg", "oggenc"))
        quality = int(rng.integers(1, 8))
        serial = int(rng.integers(1, 2**31))
    else:
        encoder = choice(rng, ("ffmpeg", "lame"))
        kbps = int(choice(rng, (64, 96, 128, 160, 192, 256, 320)))
        if rate <= 16000:
            kbps = min(kbps, 64)  # MPEG-2.5/2 layer III tops out at 64-160 kbps
    spec = ClipSpec(
        source=source.path,
        start=round(start, 3),
        seconds=round(seconds, 3),
        rate=rate,
        channels=channels,
        fmt=fmt,
        gain_db=gain_db,
        pad=pad,
        encoder=encoder,
        quality=quality,
        serial=serial,
        kbps=kbps,
    )
    return _with_renditions(spec)


# Renditions of real recordings that the Debian sources alone do not give, each of which a
# validator leaning on the sample-value histogram would take for data: a low-resolution source
# stored in a wider container (8-bit samples saved as 16-bit, then maybe normalised), telephone
# companding (mu-law / A-law WAV), and a loud master driven into clipping.
_LOWRES_SHARE = 0.08
_COMPANDED_SHARE = 0.35  # of 16-bit WAV clips at telephone rates (<= 16 kHz)
_DRIVEN_SHARE = 0.06
_LOWRES_FORMATS = ("wav16", "wav24", "wavf", "flac16", "flac24")


def _with_renditions(spec: ClipSpec) -> ClipSpec:
    """Add renditions to a clip spec, drawn from the spec's own digest: the draws of every
    other clip stay as they were, so the corpus changes only where a rendition is added."""
    rng = np.random.default_rng(int(spec_digest(identity(spec)), 16))
    changes: dict[str, object] = {}
    if spec.fmt in _LOWRES_FORMATS and rng.random() < _LOWRES_SHARE:
        bits = int(choice(rng, (8, 8, 10, 12)))
        gain_db = round(float(rng.uniform(-12.0, 0.0)), 2) if rng.random() < 0.5 else 0.0
        changes["lowres"] = LowRes(bits=bits, gain_db=gain_db)
    if spec.fmt == "wav16" and spec.rate <= 16000 and rng.random() < _COMPANDED_SHARE:
        changes["companding"] = choice(rng, ("ULAW", "ALAW"))
        changes["encoder"] = "soundfile"
    if rng.random() < _DRIVEN_SHARE:
        db = round(float(rng.uniform(3.0, 9.0)), 2)
        changes["drive"] = Drive(db=db, mode=choice(rng, ("hard", "soft")))
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def plan_clips(
    ctx: PlanContext, sources: Sequence[AudioSource], count: int, threat: str
) -> list[Item]:
    """``count`` clips, round-robin over packages, a random group then file within each."""
    by_package: dict[str, dict[str, list[AudioSource]]] = {}
    for src in sources:
        by_package.setdefault(src.package, {}).setdefault(src.group, []).append(src)
    packages = sorted(by_package)
    if not packages:
        return []
    items: list[Item] = []
    order = keyed_rng(ctx.seed, threat, "packages").permutation(len(packages))
    durations: dict[Path, float] = {}
    images = ctx.machine.images
    for index in range(count):
        rng = keyed_rng(ctx.seed, threat, index)
        package = packages[int(order[index % len(packages)])]
        groups = by_package[package]
        group = sorted(groups)[int(rng.integers(len(groups)))]
        src = groups[group][int(rng.integers(len(groups[group])))]
        if src.path not in durations:
            durations[src.path] = probe_duration(src.path)
        if durations[src.path] <= 0.05:
            continue
        spec = draw_clip_spec(rng, src, durations[src.path], ctx.scale.clip_seconds)
        if spec.container in ("mp3", "flac", "ogg") and images and rng.random() < 0.12:
            spec = dataclasses.replace(spec, cover=images[int(rng.integers(len(images)))])
        variant = f"{spec.fmt} {spec.encoder}" + (" padded" if spec.pad else "")
        variant += " cover_art" if spec.cover else ""
        if spec.lowres is not None:
            variant += f" lowres{spec.lowres.bits}"
        if spec.companding is not None:
            variant += f" {spec.companding.lower()}"
        if spec.drive is not None:
            variant += f" driven_{spec.drive.mode}"
        items.append(
            Item(
                rel=item_name("good", threat, index, identity(spec), spec.container),
                label="good",
                threat=threat,
                format=spec.container,
                source=f"{src.package}:{src.origin}",
                group=src.group,
                variant=variant,
                make=clip_maker(spec, ctx.seed),
                split=ctx.splits[src.group],
                stream=StreamInfo(spec.rate, spec.channels, spec.subtype),
                package=src.package,
                seconds=spec.seconds,
            )
        )
    return items


def _probe_stream(path: Path) -> StreamInfo | None:
    try:
        meta = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        return None
    return StreamInfo(meta.samplerate, meta.channels, meta.subtype)


def plan_originals(ctx: PlanContext, sources: Sequence[AudioSource], count: int) -> list[Item]:
    """Debian files copied as they are: other encoders' bytes, tags and headers."""
    small = [
        s for s in sources if s.path.stat().st_size < (2 << 20) and "rendered" not in s.path.parts
    ]
    if not small:
        return []
    rng = keyed_rng(ctx.seed, "originals")
    picks = rng.choice(len(small), size=min(count, len(small)), replace=False)
    items = []
    for index, pick in enumerate(sorted(int(p) for p in picks)):
        src = small[pick]
        items.append(
            Item(
                rel=item_name("good", "real", 9000 + index, {"src": str(src.path)}, src.format),
                label="good",
                threat="real",
                format=src.format,
                source=f"{src.package}:{src.origin}",
                group=src.group,
                variant="original",
                make=src.path.read_bytes,
                split=ctx.splits[src.group],
                stream=_probe_stream(src.path),
                package=src.package,
            )
        )
    return items
