"""The machine files that data-as-audio threats are made of: text, binaries, archives, images.

Discovery reads fixed places (/usr, /etc, the apt and uv caches, the virtualenv's
site-packages, the unpacked Debian packages) and sniffs each file by content. Files of the
virtualenv are named relative to its site-packages (:func:`portable_name`), so a checkout of the
repo in another directory plans the same corpus, with the same names, groups and sources.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Literal

import numpy as np

from audiomodel.payload import PayloadKind, identify_payload

__all__ = [
    "FileKind",
    "MachineFiles",
    "file_group",
    "find_machine_files",
    "machine_text",
    "pick_large",
    "portable_name",
    "portable_text",
    "read_slice",
    "site_packages",
]

FileKind = Literal["text", "binary", "archive", "images"]


@dataclass(slots=True)
class MachineFiles:
    """Non-audio files of this machine that bad examples are made from, each with its split."""

    text: list[Path]
    binary: list[Path]
    archive: list[Path]
    images: list[Path]
    split: dict[Path, str] = field(default_factory=dict)

    def of_kind(self, kind: FileKind) -> list[Path]:
        files: list[Path] = getattr(self, kind)
        return files

    def of(self, kind: FileKind, split: str) -> list[Path]:
        """The files of ``kind`` in ``split`` (all of them when that split has none)."""
        files = self.of_kind(kind)
        same = [p for p in files if self.split.get(p) == split]
        return same or files


@functools.cache
def site_packages() -> Path:
    """The site-packages directory of the running virtualenv."""
    return Path(np.__file__).resolve().parents[1]


def portable_name(path: Path) -> str:
    """``path`` as a checkout-independent name: ``site-packages/...`` inside the virtualenv."""
    try:
        return f"site-packages/{path.relative_to(site_packages())}"
    except ValueError:
        return str(path)


def portable_text(text: str) -> str:
    """``text`` with the virtualenv's site-packages directory written as ``site-packages``."""
    return text.replace(str(site_packages()), "site-packages")


def file_group(path: Path) -> str:
    """The split group of a machine file: files of the virtualenv are named relative to its
    site-packages, so every checkout of the repo plans the same corpus and the same split."""
    return f"file:{portable_name(path)}"


def _head(path: Path, n: int = 512) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(n)
    except OSError:
        return b""


def _ordered(paths: Iterable[Path]) -> list[Path]:
    """``paths`` without repeats, in the order of their portable names (the files of the
    virtualenv after every absolute path, wherever the checkout is)."""
    return sorted(set(paths), key=lambda p: PurePath(portable_name(p)))


def _regular(paths: Sequence[Path], limit: int) -> list[Path]:
    """The first ``limit`` of ``paths`` that are regular files of 1 KiB or more."""
    out = []
    for path in _ordered(paths)[:limit]:
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size >= 1024:
                out.append(path)
        except OSError:
            continue
    return out


def _is_archive(head: bytes) -> bool:
    # A .deb is an ar archive ("!<arch>"), which the payload module does not list.
    return head[:7] == b"!<arch>" or identify_payload(head).kind == PayloadKind.ARCHIVE


def find_machine_files(cache: Path) -> MachineFiles:
    """Text (source code, licences, configs, scripts), binaries (ELF executables and shared
    objects), archives (gzip, .deb, wheels) and images on this machine, sniffed by content.

    ``cache`` holds the unpacked Debian packages (``debs/``), whose cover pictures are the images.
    """
    site = site_packages()
    bins = _regular(list(Path("/usr/bin").glob("*")), 2000)
    text = _regular(
        _ordered(site.glob("*/*.py"))[:4000]
        + list(site.glob("*.dist-info/RECORD"))
        + list(Path("/usr/lib/python3.11").glob("*.py"))
        + list(Path("/usr/include").glob("*.h"))
        + list(Path("/usr/share/common-licenses").glob("*"))
        + list(Path("/usr/share/doc").glob("*/copyright"))
        + list(Path("/etc").glob("*.conf")),
        5000,
    )
    text += [p for p in bins if _head(p, 3)[:2] == b"#!"]
    binary = [
        p
        for p in _regular(
            bins
            + list(Path("/usr/lib/x86_64-linux-gnu").glob("*.so*"))
            + list(site.glob("*/*.so"))
            + list(site.glob("*/*/*.so")),
            5000,
        )
        if _head(p, 4) == b"\x7fELF"
    ]
    archive_candidates = _regular(
        list(Path("/usr/share/doc").glob("*/*.gz"))
        + list(Path("/var/cache/apt/archives").glob("*.deb"))
        + list((Path.home() / ".cache/uv").glob("archive-v0/*/*/seed/wheels/embed/*.whl"))
        + list(Path("/usr/share").glob("*/*.xz")),
        5000,
    )
    archive = [p for p in archive_candidates if _is_archive(_head(p))]
    images = [
        p
        for p in _regular(
            list((cache / "debs").glob("*/usr/share/games/*/*/*.jpg"))
            + list((cache / "debs").glob("*/usr/share/games/*/*/*/*.jpg"))
            + list(Path("/usr/share/pixmaps").glob("*.png")),
            500,
        )
        if identify_payload(_head(p)).kind == PayloadKind.IMAGE
    ]
    return MachineFiles(text=_ordered(text), binary=binary, archive=archive, images=images)


def _names_the_virtualenv(path: Path) -> bool:
    """A wheel's RECORD in the virtualenv: its lines for files outside site-packages
    (``../../../bin/<script>``) carry the hash and size of console scripts whose shebang is the
    interpreter's absolute path, so they differ from one checkout to another."""
    return path.name == "RECORD" and portable_name(path).startswith("site-packages/")


def machine_text(path: Path) -> str:
    """The text of a machine file as every checkout reads it (a virtualenv RECORD without its
    lines for files outside site-packages)."""
    text = path.read_text(errors="replace")
    if _names_the_virtualenv(path):
        lines = text.splitlines(keepends=True)
        text = "".join(line for line in lines if not line.startswith("../"))
    return text


@functools.cache
def _size(path: Path) -> int:
    if _names_the_virtualenv(path):
        return len(machine_text(path).encode())
    return path.stat().st_size


def pick_large(rng: np.random.Generator, files: Sequence[Path]) -> Path:
    """A file drawn with probability growing with its size (capped at 1 MiB), so data-as-audio
    examples are seconds long rather than the few milliseconds a 2 KiB file makes."""
    sizes = np.array([min(_size(p), 1 << 20) for p in files], dtype=np.float64)
    return files[int(rng.choice(len(files), p=sizes / sizes.sum()))]


def read_slice(path: Path, size: int, rng: np.random.Generator) -> bytes:
    """``size`` bytes from a random offset of ``path`` (the whole file when it is smaller)."""
    total = path.stat().st_size
    start = int(rng.integers(0, max(1, total - size)))
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(size)
