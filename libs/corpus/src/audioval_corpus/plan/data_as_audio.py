"""Data dressed as audio: text, binaries, archives, base64, random bytes and synthetic signals
stored as samples, each file its own split group (a machine file, or a seeded generator)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np

from audioval_corpus import threats
from audioval_corpus.machine_files import (
    FileKind,
    file_group,
    machine_text,
    pick_large,
    portable_name,
    read_slice,
)
from audioval_corpus.plan.clips import RATE_WEIGHTS, SAMPLE_RATES
from audioval_corpus.plan.items import Item, PlanContext, StreamInfo, item_name
from audioval_corpus.seeding import choice, keyed_rng
from audioval_corpus.specs import (
    Base64Spec,
    BytesSpec,
    DataParams,
    SyntheticSpec,
    TextSpec,
    XorSpec,
    identity,
)
from audioval_corpus.threats import Container, PcmEncoding, SyntheticKind, TextMode

__all__ = [
    "draw_data_params",
    "plan_base64_as_pcm",
    "plan_bytes_as_pcm",
    "plan_synthetic",
    "plan_text_as_pcm",
    "plan_xor_base64",
]

DATA_ENCODINGS: tuple[PcmEncoding, ...] = ("u8", "s16", "s24", "f32_affine", "f32_from_s16")
DATA_ENCODING_WEIGHTS = (0.2, 0.35, 0.1, 0.15, 0.2)
_ENCODING_WIDTH = {"u8": 1, "s16": 2, "s24": 3, "f32_affine": 1, "f32_from_s16": 2}
# The libsndfile subtype of data stored as (container, encoding); PCM_16 otherwise.
_DATA_SUBTYPE = {
    ("wav", "u8"): "PCM_U8",
    ("flac", "u8"): "PCM_S8",
    ("wav", "s24"): "PCM_24",
    ("flac", "s24"): "PCM_24",
    ("wav", "f32_affine"): "FLOAT",
    ("wav", "f32_from_s16"): "FLOAT",
}
_TEXT_MODES: tuple[TextMode, ...] = ("original", "normalised", "centred")
_SYNTHETIC_KINDS = cast(tuple[SyntheticKind, ...], threats.SYNTHETIC_KINDS)

DataSpec = TextSpec | BytesSpec | Base64Spec | SyntheticSpec | XorSpec


def draw_data_params(
    rng: np.random.Generator, max_seconds: float, flac_share: float = 0.25
) -> DataParams:
    """Draw a :class:`DataParams`; only the integer encodings may go to FLAC."""
    encoding = choice(rng, DATA_ENCODINGS, DATA_ENCODING_WEIGHTS)
    container: Container = (
        "flac" if encoding in ("u8", "s16", "s24") and rng.random() < flac_share else "wav"
    )
    return DataParams(
        rate=int(choice(rng, SAMPLE_RATES, RATE_WEIGHTS)),
        channels=1 if rng.random() < 0.7 else 2,
        encoding=encoding,
        container=container,
        seconds=float(rng.uniform(1.0, max_seconds)),
    )


def _data_item(
    ctx: PlanContext,
    threat: str,
    index: int,
    spec: DataSpec,
    make: Callable[[], bytes],
    source: str,
    group: str,
    variant: str,
) -> Item:
    encoding = getattr(spec, "encoding", "s16")
    subtype = _DATA_SUBTYPE.get((spec.container, encoding), "PCM_16")
    return Item(
        rel=item_name("bad", threat, index, identity(spec), spec.container),
        label="bad",
        threat=threat,
        format=spec.container,
        source=source,
        group=group,
        variant=variant,
        make=make,
        split=ctx.split_of(group),
        stream=StreamInfo(spec.rate, spec.channels, subtype),
    )


def plan_text_as_pcm(ctx: PlanContext, count: int) -> list[Item]:
    """Text files of the machine, one character per sample (as is, normalised or centred)."""
    files = ctx.machine.text
    items: list[Item] = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "text_as_pcm", index)
        if not files:
            break
        path = pick_large(rng, files)
        p = draw_data_params(rng, ctx.scale.clip_seconds[1])
        mode = choice(rng, _TEXT_MODES, (0.5, 0.25, 0.25))
        n_chars = min(int(p.rate * p.seconds * p.channels), ctx.scale.max_data_bytes // 2)
        spec = TextSpec(
            rate=p.rate,
            channels=p.channels,
            encoding="s16",
            container=p.container,
            seconds=p.seconds,
            file=path,
            mode=mode,
            chars=n_chars,
            offset_seed=int(rng.integers(2**31)),
        )

        def make(spec: TextSpec = spec) -> bytes:
            text = machine_text(spec.file)
            r = np.random.default_rng(spec.offset_seed)
            start = int(r.integers(0, max(1, len(text) - spec.chars)))
            return threats.text_as_pcm(
                text[start : start + spec.chars],
                sample_rate=spec.rate,
                mode=spec.mode,
                channels=spec.channels,
                container=spec.container,
            )

        variant = f"{mode} {spec.container} {spec.channels}ch"
        source = portable_name(path)
        items.append(
            _data_item(ctx, "text_as_pcm", index, spec, make, source, file_group(path), variant)
        )
    return items


def plan_bytes_as_pcm(
    ctx: PlanContext, threat: str, kind: FileKind | None, count: int
) -> list[Item]:
    """``binary_as_pcm`` / ``archive_as_pcm`` (``kind`` names the machine files) and
    ``random_as_pcm`` (``kind`` None): bytes as samples."""
    files = ctx.machine.of_kind(kind) if kind is not None else []
    items: list[Item] = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, threat, index)
        p = draw_data_params(rng, ctx.scale.clip_seconds[1])
        width = _ENCODING_WIDTH[p.encoding]
        size = min(int(p.rate * p.seconds) * p.channels * width, ctx.scale.max_data_bytes)
        slice_seed = int(rng.integers(2**31))
        path: Path | None = None
        if kind is None:
            group = f"rng:{ctx.seed}:{threat}:{index}"
            source = f"numpy.random seed={slice_seed}"
        else:
            if not files:
                break
            path = pick_large(rng, files)
            source, group = portable_name(path), file_group(path)
        spec = BytesSpec(
            rate=p.rate,
            channels=p.channels,
            encoding=p.encoding,
            container=p.container,
            seconds=p.seconds,
            size=size,
            slice_seed=slice_seed,
            file=path,
        )

        def make(spec: BytesSpec = spec) -> bytes:
            r = np.random.default_rng(spec.slice_seed)
            data = r.bytes(spec.size) if spec.file is None else read_slice(spec.file, spec.size, r)
            return threats.bytes_as_pcm(
                data,
                sample_rate=spec.rate,
                channels=spec.channels,
                encoding=spec.encoding,
                container=spec.container,
            )

        variant = f"{p.encoding} {p.container} {p.channels}ch"
        items.append(_data_item(ctx, threat, index, spec, make, source, group, variant))
    return items


def plan_base64_as_pcm(ctx: PlanContext, count: int) -> list[Item]:
    """Base64 of binaries and archives, as text-as-PCM or as 8/16-bit samples."""
    files = ctx.machine.binary + ctx.machine.archive
    items: list[Item] = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "base64_as_pcm", index)
        if not files:
            break
        path = pick_large(rng, files)
        p = draw_data_params(rng, ctx.scale.clip_seconds[1], flac_share=0.0)
        as_text = rng.random() < 0.5
        size = min(int(p.rate * p.seconds) * 3 // 4, ctx.scale.max_data_bytes // 2)
        encoding: PcmEncoding = p.encoding
        if as_text:
            encoding = "s16"
        elif encoding not in ("u8", "s16"):
            encoding = "u8"
        spec = Base64Spec(
            rate=p.rate,
            channels=p.channels,
            encoding=encoding,
            container=p.container,
            seconds=p.seconds,
            file=path,
            as_text=as_text,
            size=size,
            slice_seed=int(rng.integers(2**31)),
        )

        def make(spec: Base64Spec = spec) -> bytes:
            raw = read_slice(spec.file, spec.size, np.random.default_rng(spec.slice_seed))
            text = base64.b64encode(raw)
            if spec.as_text:
                return threats.text_as_pcm(
                    text.decode(), sample_rate=spec.rate, channels=spec.channels
                )
            return threats.bytes_as_pcm(
                text, sample_rate=spec.rate, channels=spec.channels, encoding=spec.encoding
            )

        variant = "text_as_pcm original" if as_text else f"{encoding} wav"
        source = portable_name(path)
        items.append(
            _data_item(ctx, "base64_as_pcm", index, spec, make, source, file_group(path), variant)
        )
    return items


def plan_synthetic(ctx: PlanContext, count: int) -> list[Item]:
    """Signals no recording makes, one of each kind in turn."""
    items: list[Item] = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "synthetic", index)
        kind = _SYNTHETIC_KINDS[index % len(_SYNTHETIC_KINDS)]
        spec = SyntheticSpec(
            kind=kind,
            rate=int(choice(rng, SAMPLE_RATES, RATE_WEIGHTS)),
            channels=int(choice(rng, (1, 2))),
            seconds=round(float(rng.uniform(0.5, 10.0)), 3),
            container="flac" if rng.random() < 0.25 else "wav",
            seed=int(rng.integers(2**31)),
        )

        def make(spec: SyntheticSpec = spec) -> bytes:
            return threats.synthetic_signal(
                spec.kind,
                seconds=spec.seconds,
                sample_rate=spec.rate,
                channels=spec.channels,
                seed=spec.seed,
                container=spec.container,
            )

        group = f"synthetic:{ctx.seed}:{index}"
        source = f"synthetic:{kind} seed={spec.seed}"
        items.append(_data_item(ctx, "synthetic", index, spec, make, source, group, kind))
    return items


def plan_xor_base64(ctx: PlanContext, count: int) -> list[Item]:
    """Binaries xor-ed with a key and base64-ed (either order), as 8/16-bit samples."""
    files = ctx.machine.binary
    items: list[Item] = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "xor_base64_as_pcm", index)
        path = pick_large(rng, files) if files else None
        spec = XorSpec(
            file=path,
            size=int(rng.integers(16 << 10, 512 << 10)),
            order=choice(rng, ("b64_then_xor", "xor_then_b64")),
            rate=int(choice(rng, (22050, 44100, 48000))),
            encoding=choice(rng, ("s16", "u8")),
            seed=int(rng.integers(2**31)),
        )

        def make(spec: XorSpec = spec) -> bytes:
            r = np.random.default_rng(spec.seed)
            if spec.file is None:
                payload = threats.make_payload("pe", spec.size, seed=spec.seed)
            else:
                payload = read_slice(spec.file, spec.size, r)
            return threats.xor_base64_as_pcm(
                payload,
                seed=spec.seed,
                order=spec.order,
                sample_rate=spec.rate,
                encoding=spec.encoding,
            )

        group = file_group(path) if path else f"rng:{ctx.seed}:xor:{index}"
        source = portable_name(path) if path else str(path)
        variant = f"{spec.order} {spec.encoding}"
        items.append(
            _data_item(ctx, "xor_base64_as_pcm", index, spec, make, source, group, variant)
        )
    return items
