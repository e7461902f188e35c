"""Payloads in real audio: bytes appended after, chunked into or tagged onto good clips, size
fields that lie, and LSB steganography. Each bad file is derived from a good clip (its parent):
it takes the parent's format, group and split, and real files used as payload come from the
same split."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from audioval_corpus import threats
from audioval_corpus.plan.items import Item, PlanContext, StreamInfo, item_name
from audioval_corpus.seeding import choice, keyed_rng
from audioval_corpus.specs import AppendSpec, ChunkSpec, LieSpec, LsbSpec, TagSpec, identity
from audioval_corpus.threats import LieKind

__all__ = ["plan_lsb", "plan_payloads"]

_LIES: tuple[LieKind, ...] = (
    "riff_oversized",
    "riff_undersized",
    "data_oversized",
    "data_max",
    "data_undersized_hides",
)
# Ids no reader parses (JUNK and PAD are skipped by definition): a known structured id such as
# smpl or cue with garbage inside is a different case, it breaks libsndfile's parser.
_CHUNK_IDS = (b"xtra", b"JUNK", b"PAD ", b"dbg ", b"zzzz", b"LGWV")

DerivedSpec = AppendSpec | ChunkSpec | TagSpec | LieSpec | LsbSpec
Payload = Callable[[int], bytes]
BitOrder = Literal["msb_first", "lsb_first"]


def _payload(
    ctx: PlanContext, rng: np.random.Generator, split: str, kinds: Sequence[str]
) -> tuple[str, Payload]:
    """Pick a payload kind; return its name and a maker of ``n`` bytes of it.

    ``elf_real`` and ``archive_real`` are slices of this machine's files from ``split``.
    """
    kind = choice(rng, kinds)
    seed = int(rng.integers(2**31))
    if kind in ("elf_real", "archive_real"):
        files = ctx.machine.of("binary" if kind == "elf_real" else "archive", split)
        if files:
            path = files[int(rng.integers(len(files)))]

            def real(n: int, path: Path = path) -> bytes:
                # From the start of the file, so the magic bytes are there.
                with path.open("rb") as handle:
                    return handle.read(n)

            return f"{kind}:{path}", real
        kind = "elf" if kind == "elf_real" else "zip"
    if kind == "base64":
        return kind, lambda n: base64.b64encode(threats.make_payload("pe", n * 3 // 4, seed=seed))
    return kind, lambda n: threats.make_payload(kind, n, seed=seed)


def _derived(
    ctx: PlanContext,
    threat: str,
    index: int,
    parent: Item,
    spec: DerivedSpec,
    make: Callable[[bytes], bytes],
    variant: str,
) -> Item:
    """A bad file made from ``parent``'s bytes by ``make``: the parent's format, source, group,
    split and stream; its name covers the spec and the parent."""
    parent_path = ctx.out / parent.rel

    def from_parent() -> bytes:
        return make(parent_path.read_bytes())

    name = {**identity(spec), "parent": parent.rel}
    return Item(
        rel=item_name("bad", threat, index, name, parent.format),
        label="bad",
        threat=threat,
        format=parent.format,
        source=parent.source,
        group=parent.group,
        variant=variant,
        make=from_parent,
        split=parent.split,
        stream=parent.stream or StreamInfo(None, None, None),
        parent=parent.rel,
    )


def plan_payloads(ctx: PlanContext, good: Sequence[Item], counts: dict[str, int]) -> list[Item]:
    """Payloads appended after, chunked into, or tagged onto ``good`` clips, and lying sizes."""
    if not good:
        return []
    wavs = [i for i in good if i.format == "wav"]
    taggable = [i for i in good if i.format in ("wav", "mp3", "flac", "ogg")]
    return [
        *_plan_appended(ctx, good, counts.get("appended_payload", 0)),
        *_plan_riff_chunks(ctx, wavs, counts.get("riff_chunk_payload", 0)),
        *_plan_tags(ctx, taggable, counts.get("tag_payload", 0)),
        *_plan_lies(ctx, wavs, counts.get("lying_size", 0)),
    ]


def _plan_appended(ctx: PlanContext, parents: Sequence[Item], count: int) -> list[Item]:
    kinds = ("elf_real", "archive_real", "pe", "zip", "gzip", "shell", "random", "base64")
    items = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "appended_payload", index)
        parent = parents[int(rng.integers(len(parents)))]
        name, payload = _payload(ctx, rng, parent.split, kinds)
        size = int(np.exp(rng.uniform(np.log(1 << 10), np.log(256 << 10))))
        cover = parent.format == "wav" and rng.random() < 0.3
        spec = AppendSpec(payload=name, size=size, cover_in_riff=cover)

        def make(audio: bytes, payload: Payload = payload, spec: AppendSpec = spec) -> bytes:
            return threats.append_payload(
                audio, payload(spec.size), cover_in_riff=spec.cover_in_riff
            )

        variant = f"{name.split(':')[0]} after {parent.format}" + (" in riff" if cover else "")
        items.append(_derived(ctx, "appended_payload", index, parent, spec, make, variant))
    return items


def _plan_riff_chunks(ctx: PlanContext, wavs: Sequence[Item], count: int) -> list[Item]:
    kinds = ("elf_real", "archive_real", "pe", "zip", "gzip")
    items = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "riff_chunk_payload", index)
        if not wavs:
            break
        parent = wavs[int(rng.integers(len(wavs)))]
        name, payload = _payload(ctx, rng, parent.split, kinds)
        chunk_id = choice(rng, _CHUNK_IDS)
        spec = ChunkSpec(
            payload=name,
            size=int(np.exp(rng.uniform(np.log(2 << 10), np.log(512 << 10)))),
            chunk_id=chunk_id.decode("latin-1"),
            before_data=bool(rng.random() < 0.5),
        )

        def make(audio: bytes, payload: Payload = payload, spec: ChunkSpec = spec) -> bytes:
            return threats.add_riff_chunk(
                audio,
                payload(spec.size),
                chunk_id=spec.chunk_id.encode("latin-1"),
                before_data=spec.before_data,
            )

        where = "before" if spec.before_data else "after"
        variant = f"'{spec.chunk_id}' {where} data, {name.split(':')[0]}"
        items.append(_derived(ctx, "riff_chunk_payload", index, parent, spec, make, variant))
    return items


def _plan_tags(ctx: PlanContext, taggable: Sequence[Item], count: int) -> list[Item]:
    kinds = ("elf_real", "archive_real", "pe", "zip", "gzip", "shell")
    items = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "tag_payload", index)
        parent = taggable[int(rng.integers(len(taggable)))]
        name, payload = _payload(ctx, rng, parent.split, kinds)
        size = int(np.exp(rng.uniform(np.log(4 << 10), np.log(1 << 20))))
        if parent.format == "mp3":
            how = str(choice(rng, ("apic", "geob")))
        elif parent.format == "wav":
            how = str(choice(rng, ("list_info", "riff_id3")))
        else:
            how = f"{parent.format}_picture" if parent.format == "flac" else "vorbis_picture"
        spec = TagSpec(payload=name, size=size, how=how)

        def make(audio: bytes, payload: Payload = payload, spec: TagSpec = spec) -> bytes:
            data = payload(spec.size)
            if spec.how == "apic":
                return threats.add_id3_tag(audio, data, frame="APIC")
            if spec.how == "geob":
                return threats.add_id3_tag(audio, data, frame="GEOB")
            if spec.how == "list_info":
                return threats.add_list_info(audio, data)
            if spec.how == "riff_id3":
                return threats.add_riff_id3(audio, data)
            if spec.how == "flac_picture":
                return threats.add_flac_picture(audio, data)
            return threats.add_vorbis_picture(audio, data)

        variant = f"{how} {name.split(':')[0]}"
        items.append(_derived(ctx, "tag_payload", index, parent, spec, make, variant))
    return items


def _plan_lies(ctx: PlanContext, wavs: Sequence[Item], count: int) -> list[Item]:
    items = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "lying_size", index)
        if not wavs:
            break
        parent = wavs[int(rng.integers(len(wavs)))]
        name, payload = _payload(ctx, rng, parent.split, ("elf_real", "zip", "shell", "pe"))
        spec = LieSpec(kind=_LIES[index % len(_LIES)], payload=name, seed=int(rng.integers(2**31)))

        def make(audio: bytes, payload: Payload = payload, spec: LieSpec = spec) -> bytes:
            data = b""
            if spec.kind == "data_undersized_hides":
                data = payload(max(64, min(64 << 10, len(audio) // 4)))
            return threats.lie_about_sizes(audio, spec.kind, payload=data, seed=spec.seed)

        items.append(_derived(ctx, "lying_size", index, parent, spec, make, spec.kind))
    return items


# Half the plan is what carving cannot always name and the issue asks to measure: random
# (encrypted-looking) bytes and files (zip, ELF) over half or all of the capacity, random twice
# as often (statistics alone must find it). The rest spans every kind at 10-25 % and text at
# 50-100 %, so the held-out split has tens of files of each.
_LSB_COMBOS: tuple[tuple[str, float, int], ...] = (
    *[(k, f, b) for k in ("random", "random", "zip", "elf") for f in (0.5, 1.0) for b in (1, 2)],
    *[(k, f, b) for k in ("zip", "elf", "text", "random") for f in (0.1, 0.25) for b in (1, 2)],
    *[("text", f, b) for f in (0.5, 1.0) for b in (1, 2)],
)


def plan_lsb(ctx: PlanContext, good: Sequence[Item], count: int) -> list[Item]:
    """Payloads in the low bits of 16-bit PCM clips (WAV and FLAC)."""
    covers = [
        i
        for i in good
        if i.format in ("wav", "flac") and i.stream is not None and i.stream.subtype == "PCM_16"
    ]
    items: list[Item] = []
    for index in range(count):
        rng = keyed_rng(ctx.seed, "lsb_stego", index)
        if not covers:
            break
        parent = covers[int(rng.integers(len(covers)))]
        kind, fraction, bits = _LSB_COMBOS[index % len(_LSB_COMBOS)]
        length_prefix = bool(rng.random() < 0.3)
        bit_order: BitOrder = "msb_first" if rng.random() < 0.25 else "lsb_first"
        interleaved = bool(rng.random() < 0.85)
        seed = int(rng.integers(2**31))
        elves = ctx.machine.of("binary", parent.split)
        elf = elves[int(rng.integers(len(elves)))] if elves and kind == "elf" else None
        spec = LsbSpec(
            payload=kind,
            fraction=fraction,
            bits=bits,
            length_prefix=length_prefix,
            bit_order=bit_order,
            interleaved=interleaved,
            seed=seed,
            elf=elf,
        )
        cover_path = ctx.out / parent.rel

        def make(audio: bytes, spec: LsbSpec = spec, cover_path: Path = cover_path) -> bytes:
            meta = sf.info(str(cover_path))
            carriers = meta.frames * (meta.channels if spec.interleaved else 1)
            size = min(int(spec.fraction * carriers * spec.bits / 8), 4 << 20)
            size = max(size, 16)
            if spec.elf is not None:
                with spec.elf.open("rb") as handle:
                    payload = handle.read(size)
            else:
                payload = threats.make_payload(spec.payload, size, seed=spec.seed)
            return threats.lsb_stego(
                audio,
                payload,
                bits=spec.bits,
                fraction=spec.fraction,
                length_prefix=spec.length_prefix,
                bit_order=spec.bit_order,
                interleaved=spec.interleaved,
                seed=spec.seed,
            )

        variant = f"{kind} {bits}bit {fraction:g}" + (" prefixed" if length_prefix else "")
        items.append(_derived(ctx, "lsb_stego", index, parent, spec, make, variant))
    return items
