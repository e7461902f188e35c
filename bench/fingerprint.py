"""Fingerprint identification: the issue's figures, in one run (issue #13, first slice).

What it does, on real music (the Debian packages' original songs under ``--debs``, split into
held-out and train by the corpus manifest's groups, as the classifier's corpus is):

1. **Speed.** Every held-out song is fingerprinted and added to a fresh index (decode with
   soundfile in the validator's blocks, landmarks, hashes, add), and ``fpcalc -length 0`` runs
   on the same file, interleaved; CPU seconds of each (``time.process_time`` for this process,
   ``RUSAGE_CHILDREN`` for fpcalc) give x realtime per core and their ratio. Decoding is also
   timed alone, so the table shows the cost the fingerprint adds to the validator's decode pass.
2. **Bulk.** The index is grown past ``--bulk-hours`` (default 1,000 h) with synthetic
   references: 4-minute tracks whose hash values are drawn (with replacement) from the
   reference hashes of the *train* songs, anchor times uniform over the track, at the held-out
   songs' measured hashes per second. A held-out query then collides with the bulk as often, on
   average, as with that much real unrelated music (the empirical distribution is an unbiased
   estimate of the real one); posting lists are more uneven than real ones (each drawn value
   repeats), which makes lookups slower, not faster. Unrelated excerpts (from those same train
   songs) collide more than unrelated music would: a pessimistic false-match test.
3. **Identification.** ``--excerpts`` 10 s excerpts per held-out song at random offsets, each
   under each transform (MP3 64 kbps with lame, Ogg Vorbis q0 at 22.05 kHz mono with oggenc, -9
   dB plus white noise at 20 dB SNR, resampling to 48 kHz with sox, ``sox speed 1.03``), are
   looked up in the grown index; identified = the best match is the song the excerpt was cut
   from. Query latency (lookup and alignment, and with the query's own fingerprinting) p50/p95.
4. **False matches.** ``--unrelated`` 10 s excerpts of audio that is not in the index (train
   split songs, and the corpus' train-split good clips of >= 10 s: other music, game sounds,
   speech): any match is a false match.

5. **Similar references** (``--similar 1,10,100``, run alone): lookup time of 10 s excerpts of
   one held-out song when the index holds N copies of it (each the song at -9 dB plus its own
   white noise at 20 dB SNR: the same piece uploaded N times), with every candidate aligned
   (as before ``store.MAX_ALIGNED``) and with only the top ``MAX_ALIGNED`` by offset votes,
   interleaved query by query in one run; and whether the best match's score differs. With
   ``--known-bad``, the first copy is on the known-bad list (a catalogue of N - 1 copies of a
   song the platform flagged): lookups in which it is reported.

Prints markdown tables. Usage::

    uv run --frozen python bench/fingerprint.py                      # defaults as in the report
    uv run --frozen python bench/fingerprint.py --bulk-hours 0 --excerpts 1   # quick look
    uv run --frozen python bench/fingerprint.py --similar 1,10,100            # section 5 only
    uv run --frozen python bench/fingerprint.py --similar 1,10,100 --known-bad  # one is known-bad
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import soundfile as sf  # noqa: E402

from audiomodel.fingerprint import (  # noqa: E402
    REFERENCE_FAN_OUT,
    Fingerprinter,
    Hashes,
    hashes,
    landmarks,
    read_landmarks,
)
from audioval_index import FingerprintIndex  # noqa: E402
from audioval_index import store as index_store  # noqa: E402
from audioval_index.identify import MIN_FINDING_ALIGNED  # noqa: E402

DEFAULT_CORPUS = Path("/work/main/.cache/corpus")
MUSIC_PACKAGES = ("asc-music", "drascula-music", "hyperrogue-music", "fretsonfire-songs-")
AUDIO_SUFFIXES = (".ogg", ".mp3", ".flac", ".wav")
EXCERPT_S = 10.0
SILENT_DBFS = -50.0  # excerpts quieter than this (RMS) are skipped as silence
BLOCK = 65536
Audio = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Song:
    path: Path
    group: str
    split: str
    duration_s: float


def music_songs(debs: Path, manifest: Path, min_s: float) -> list[Song]:
    """Full songs of the music packages, with the manifest's split of their group.

    Byte-identical copies count once (the first path in sorted order). A song's group is the
    manifest's group of any clip cut from it; a song no clip came from
    takes the split of its directory's group, or (no clip from that directory either) a
    split decided by a hash of the directory (one in three held out).
    """
    by_source: dict[str, tuple[str, str]] = {}
    by_dir: dict[str, str] = {}
    with manifest.open() as lines:
        for line in lines:
            row = json.loads(line)
            source = row.get("source") or ""
            if ":" in source and row.get("group"):
                package, inner = source.split(":", 1)
                key = f"{package}/{inner.lstrip('/')}"
                by_source[key] = (row["group"], row["split"])
                by_dir[str(Path(key).parent)] = row["split"]
    songs = []
    seen: set[str] = set()  # byte-identical copies (drascula ships each track 6 times)
    for package_dir in sorted(debs.iterdir()):
        if not package_dir.name.startswith(MUSIC_PACKAGES):
            continue
        for path in sorted(package_dir.rglob("*")):
            if path.suffix.lower() not in AUDIO_SUFFIXES or "/." in f"/{path.relative_to(debs)}":
                continue
            if package_dir.name.startswith("fretsonfire") and path.name != "song.ogg":
                continue  # the other stems are parts of song.ogg: not unrelated, not distinct
            if package_dir.name.startswith("hyperrogue") and "/music/" not in str(path):
                continue  # sound effects (a fanfare and its silence), not songs
            try:
                duration = sf.info(str(path)).duration
            except (sf.LibsndfileError, RuntimeError):
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if duration < min_s or digest in seen:
                continue
            seen.add(digest)
            key = f"{package_dir.name}/{path.relative_to(package_dir)}"
            group, split = by_source.get(key, (str(Path(key).parent), ""))
            if not split:
                split = by_dir.get(str(Path(key).parent), "")
            if not split:
                digest = int(hashlib.sha1(group.encode()).hexdigest(), 16)
                split = "heldout" if digest % 3 == 0 else "train"
            songs.append(Song(path, group, split, duration))
    return songs


def other_clips(corpus: Path, min_s: float, exclude_groups: set[str]) -> list[Path]:
    """Train-split good clips of the dev corpus (music, game sounds, speech) of >= min_s,
    except those cut from a song of ``exclude_groups`` (indexed, or the bulk's pool)."""
    out = []
    with (corpus / "manifest.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            source = str(row.get("source") or "")
            group = str(row.get("group") or "")
            if ":" in source:
                package, inner = source.split(":", 1)
                group = str(Path(f"{package}/{inner.lstrip('/')}").parent)
            if row["label"] != "good" or row["split"] != "train":
                continue
            if row.get("group") in exclude_groups or group in exclude_groups:
                continue
            if True:
                path = corpus / row["path"]
                try:
                    if sf.info(str(path)).duration >= min_s:
                        out.append(path)
                except (sf.LibsndfileError, RuntimeError):
                    continue
    return out


# --- transforms ------------------------------------------------------------------------------


def _tool(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def _through_file(
    audio: Audio, rate: int, work: Path, command: Callable[[Path, Path], list[str]], suffix: str
) -> tuple[Audio, int]:
    source, target = work / "in.wav", work / f"out{suffix}"
    sf.write(str(source), audio, rate, subtype="PCM_16")
    _tool(command(source, target))
    out, out_rate = sf.read(str(target), dtype="float32", always_2d=True)
    return out, int(out_rate)


def mp3_64k(audio: Audio, rate: int, work: Path, rng: np.random.Generator) -> tuple[Audio, int]:
    return _through_file(
        audio, rate, work, lambda s, t: ["lame", "--quiet", "-b", "64", str(s), str(t)], ".mp3"
    )


def ogg_q0_22k_mono(
    audio: Audio, rate: int, work: Path, rng: np.random.Generator
) -> tuple[Audio, int]:
    mono = audio.mean(axis=1, keepdims=True).astype(np.float32)
    return _through_file(
        mono,
        rate,
        work,
        lambda s, t: ["oggenc", "-Q", "-q", "0", "--resample", "22050", "-o", str(t), str(s)],
        ".ogg",
    )


def gain_noise(audio: Audio, rate: int, work: Path, rng: np.random.Generator) -> tuple[Audio, int]:
    quieter = audio * np.float32(10 ** (-9 / 20))
    power = float(np.mean(quieter.astype(np.float64) ** 2))
    noise = rng.standard_normal(quieter.shape) * np.sqrt(power / 10 ** (20 / 10))
    return (quieter + noise).astype(np.float32), rate


def resample_48k(
    audio: Audio, rate: int, work: Path, rng: np.random.Generator
) -> tuple[Audio, int]:
    return _through_file(
        audio, rate, work, lambda s, t: ["sox", str(s), "-r", "48000", str(t)], ".wav"
    )


def speed_103(audio: Audio, rate: int, work: Path, rng: np.random.Generator) -> tuple[Audio, int]:
    return _through_file(
        audio, rate, work, lambda s, t: ["sox", str(s), str(t), "speed", "1.03"], ".wav"
    )


TRANSFORMS: dict[str, Callable[[Audio, int, Path, np.random.Generator], tuple[Audio, int]]] = {
    "MP3 64 kbps (lame -b 64)": mp3_64k,
    "Ogg q0, 22.05 kHz mono (oggenc)": ogg_q0_22k_mono,
    "-9 dB + white noise at 20 dB SNR": gain_noise,
    "resampled to 48 kHz (sox)": resample_48k,
    "speed +3% (sox speed 1.03)": speed_103,
}
TARGETS = {name: (0.90 if "speed" in name else 0.98) for name in TRANSFORMS}


# --- measurements ----------------------------------------------------------------------------


def decode_blocks(path: Path) -> tuple[list[Audio], int]:
    with sf.SoundFile(str(path)) as audio:
        rate = audio.samplerate
        blocks = []
        while True:
            block = audio.read(BLOCK, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            blocks.append(block)
    return blocks, rate


def fpcalc_cpu(path: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["fpcalc", "-length", "0", str(path)], capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def similar_references(
    song: Song,
    counts: list[int],
    excerpts: int,
    work: Path,
    rng: np.random.Generator,
    *,
    known_bad: bool = False,
) -> None:
    """Section 5: lookup time against N copies of one song, all aligned vs the top K (with
    ``known_bad``, the first copy a known-bad reference)."""
    audio, rate = sf.read(str(song.path), dtype="float32", always_2d=True)
    index = FingerprintIndex(work / "similar")
    queries = []
    for _ in range(excerpts):
        start = int(rng.integers(0, audio.shape[0] - int(EXCERPT_S * rate)))
        excerpt, _ = gain_noise(audio[start : start + int(EXCERPT_S * rate)], rate, work, rng)
        queries.append(landmarks(excerpt, sr=rate))
    bounded = index_store.MAX_ALIGNED
    print(f"\n## Lookup against N copies of one song ({song.path.name}, {song.duration_s:.0f} s)\n")
    print(
        f"{excerpts} excerpts of {EXCERPT_S:.0f} s (-9 dB + noise), limit 5; CPU ms per lookup, "
        f"all candidates aligned vs the top {bounded} by offset votes, interleaved"
        + ("; copy 0 is known-bad" if known_bad else "")
        + "\n"
    )
    print(
        "| copies | all aligned p50 | p95 | top K p50 | p95 | ratio p50 | "
        "best score differs | top-5 refs differ | known-bad reported (all / top K) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    added = 0
    for n in counts:
        with index.writer() as writer:
            while added < n:
                copy, _ = gain_noise(audio, rate, work, rng)
                listed = "known-bad" if known_bad and added == 0 else "catalogue"
                writer.add(landmarks(copy, sr=rate), list_name=listed, path=f"copy{added}")
                added += 1
        times: dict[int, list[float]] = {bounded: [], 10**9: []}
        score_differs = refs_differ = 0
        reported = {bounded: 0, 10**9: 0}
        for marks in queries:
            found = {}
            for k in (10**9, bounded) if len(times[bounded]) % 2 else (bounded, 10**9):
                index_store.MAX_ALIGNED = k
                t = time.process_time()
                found[k] = index.match(marks, limit=5)
                times[k].append((time.process_time() - t) * 1e3)
            index_store.MAX_ALIGNED = bounded
            a, b = found[10**9], found[bounded]
            score_differs += (a[0].score if a else 0.0) != (b[0].score if b else 0.0)
            refs_differ += [m.ref for m in a[:5]] != [m.ref for m in b[:5]]
            for k, matches in found.items():
                reported[k] += any(m.list == "known-bad" for m in matches)
        old, new = times[10**9], times[bounded]
        print(
            f"| {n} | {pct(old, 50):.1f} | {pct(old, 95):.1f} | {pct(new, 50):.1f} | "
            f"{pct(new, 95):.1f} | {pct(old, 50) / pct(new, 50):.2f} | "
            f"{score_differs}/{len(queries)} | {refs_differ}/{len(queries)} | "
            + (
                f"{reported[10**9]}/{len(queries)} / {reported[bounded]}/{len(queries)} |"
                if known_bad
                else "- |"
            )
        )
    index.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--debs", type=Path, default=DEFAULT_CORPUS / "debs")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS / "full-seed0")
    parser.add_argument("--index-dir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--bulk-hours", type=float, default=1000.0)
    parser.add_argument("--excerpts", type=int, default=3, help="per held-out song")
    parser.add_argument("--unrelated", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--similar", default="", help="comma-separated copy counts: run section 5 only"
    )
    parser.add_argument(
        "--known-bad",
        action="store_true",
        help="with --similar: the first copy is a known-bad reference (is it reported?)",
    )
    parser.add_argument(
        "--max-aligned",
        type=int,
        default=index_store.MAX_ALIGNED,
        help="references aligned per lookup (a huge value: every candidate, as before the bound)",
    )
    args = parser.parse_args(argv)
    index_store.MAX_ALIGNED = args.max_aligned
    if args.similar:
        songs = music_songs(args.debs, args.corpus / "manifest.jsonl", min_s=60.0)
        song = next(s for s in songs if s.split == "heldout")
        work_root = Path(tempfile.mkdtemp(prefix="fpbench-"))
        counts = [int(n) for n in args.similar.split(",")]
        similar_references(
            song,
            counts,
            max(args.excerpts, 10),
            work_root,
            np.random.default_rng(args.seed),
            known_bad=args.known_bad,
        )
        shutil.rmtree(work_root, ignore_errors=True)
        return 0
    for tool in ("fpcalc", "lame", "oggenc", "sox"):
        if shutil.which(tool) is None:
            sys.exit(
                f"bench/fingerprint.py needs {tool} (apt: libchromaprint-tools, lame, vorbis-tools, sox)"
            )
    rng = np.random.default_rng(args.seed)
    songs = music_songs(args.debs, args.corpus / "manifest.jsonl", min_s=EXCERPT_S + 2)
    heldout = [s for s in songs if s.split == "heldout"]
    train = [s for s in songs if s.split == "train"]
    # Train songs, alternately: the bulk's hash pool, or unrelated audio to query.
    pool, unrelated = train[::2], train[1::2]
    used_groups = {s.group for s in heldout} | {s.group for s in pool}
    print(
        f"songs: {len(heldout)} held out ({sum(s.duration_s for s in heldout) / 3600:.2f} h) indexed; "
        f"{len(pool)} train songs ({sum(s.duration_s for s in pool) / 3600:.2f} h) the bulk's hash pool; "
        f"{len(unrelated)} train songs ({sum(s.duration_s for s in unrelated) / 3600:.2f} h) unrelated audio"
    )
    work_root = Path(tempfile.mkdtemp(prefix="fpbench-"))
    index_dir = args.index_dir or work_root / "index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    index = FingerprintIndex(index_dir)

    # 1. Speed: decode, fingerprint, add; fpcalc on the same file, interleaved.
    decode_s = fp_s = add_s = fpcalc_s = audio_s = 0.0
    ref_of: dict[Path, int] = {}
    real_hashes: list[npt.NDArray[np.uint32]] = []
    with index.writer() as writer:
        for song in heldout:
            fpcalc_s += fpcalc_cpu(song.path)
            t0 = time.process_time()
            blocks, rate = decode_blocks(song.path)
            t1 = time.process_time()
            fingerprinter = Fingerprinter(rate)
            for block in blocks:
                fingerprinter.update(block)
            marks = fingerprinter.finish()
            t2 = time.process_time()
            ref = writer.add(marks, list_name="catalogue", path=str(song.path))
            t3 = time.process_time()
            decode_s, fp_s, add_s = decode_s + t1 - t0, fp_s + t2 - t1, add_s + t3 - t2
            audio_s += marks.duration_s
            ref_of[song.path] = ref.ref
            real_hashes.append(hashes(marks, fan_out=REFERENCE_FAN_OUT).hashes)
        t = time.process_time()
        writer.flush()
        add_s += time.process_time() - t
    stats_real = index.stats()
    all_real = np.concatenate(real_hashes)
    rate_hps = all_real.size / audio_s
    print("\n## Speed (CPU seconds, one core, same files, same run)\n")
    print(f"{len(heldout)} files, {audio_s / 3600:.2f} h of audio\n")
    print("| what | CPU s | x realtime | ratio to fpcalc |")
    print("| --- | ---: | ---: | ---: |")
    fp_rt = audio_s / fpcalc_s
    for name, cpu in (
        ("fpcalc -length 0 (decode + chromaprint)", fpcalc_s),
        ("fingerprint + index add (validator's decode pass already paid)", fp_s + add_s),
        ("decode (soundfile) + fingerprint + index add", decode_s + fp_s + add_s),
        ("decode alone (soundfile)", decode_s),
    ):
        print(f"| {name} | {cpu:.2f} | {audio_s / cpu:.0f} | {audio_s / cpu / fp_rt:.2f} |")

    # 2. Bulk: synthetic references whose hash values follow the train songs' hashes.
    train_hashes = [hashes(read_landmarks(song.path)).hashes for song in pool]
    values, counts = np.unique(np.concatenate(train_hashes), return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    track_s = 240.0
    per_track = round(rate_hps * track_s)
    n_tracks = int(np.ceil(args.bulk_hours * 3600 / track_s))
    t = time.perf_counter()
    with index.writer() as writer:
        for _ in range(n_tracks):
            drawn = values[
                np.searchsorted(cdf, rng.random(per_track), side="right").clip(0, values.size - 1)
            ]
            times = np.sort(rng.integers(0, int(track_s * 31.25), per_track)).astype(np.uint32)
            writer.add_hashes(Hashes(drawn, times), duration_s=track_s, list_name="catalogue")
    bulk_build_s = time.perf_counter() - t
    stats = index.stats()
    print("\n## Index size\n")
    print("| index | hours | entries | entries/h | bytes | MB/h | segments |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, st in (
        ("real held-out songs only", stats_real),
        ("grown (real + synthetic bulk)", stats),
    ):
        print(
            f"| {name} | {st.hours:.1f} | {st.entries:,} | {st.entries / st.hours:,.0f} | "
            f"{st.bytes:,} | {st.bytes / st.hours / 1e6:.2f} | {st.segments} |"
        )
    print(
        f"\nbulk: {n_tracks:,} synthetic 4-minute references, {per_track} hashes each "
        f"({rate_hps:.1f}/s, the real songs' rate), built in {bulk_build_s:.0f} s wall; "
        f"audfprint ~2 MB/h, Olaf ~1.8 MB/h"
    )

    # 3. Identification of transformed excerpts against the grown index.
    results: dict[str, list[bool]] = {name: [] for name in TRANSFORMS}
    placed: dict[str, list[bool]] = {name: [] for name in TRANSFORMS}
    # Identified strongly enough to become a verdict finding (what validate and classify report).
    as_finding: dict[str, list[bool]] = {name: [] for name in TRANSFORMS}
    scores: dict[str, list[float]] = {name: [] for name in TRANSFORMS}
    match_ms: list[float] = []
    misses: list[str] = []
    silent = 0
    query_ms: list[float] = []
    work = work_root / "t"
    work.mkdir()
    for song in heldout:
        audio, rate = sf.read(str(song.path), dtype="float32", always_2d=True)
        for _ in range(args.excerpts):
            start = int(rng.integers(0, audio.shape[0] - int(EXCERPT_S * rate)))
            excerpt = audio[start : start + int(EXCERPT_S * rate)]
            if float(np.sqrt(np.mean(excerpt.astype(np.float64) ** 2))) < 10 ** (SILENT_DBFS / 20):
                silent += 1  # nothing to identify in silence; counted and reported
                continue
            for name, transform in TRANSFORMS.items():
                query, query_rate = transform(excerpt, rate, work, rng)
                t0 = time.process_time()
                marks = landmarks(query, sr=query_rate)
                t1 = time.process_time()
                found = index.match(marks, limit=3)
                t2 = time.process_time()
                match_ms.append((t2 - t1) * 1e3)
                query_ms.append((t2 - t0) * 1e3)
                hit = bool(found) and found[0].ref == ref_of[song.path]
                results[name].append(hit)
                as_finding[name].append(hit and found[0].count >= MIN_FINDING_ALIGNED)
                if not hit and len(misses) < 8:
                    top = found[0].to_dict() if found else None
                    misses.append(f"{name}: {song.path} at {start / rate:.1f} s -> {top}")
                if hit:
                    scores[name].append(found[0].score)
                    expected = start / rate + found[0].query_start_s * found[0].scale
                    placed[name].append(abs(found[0].ref_start_s - expected) < 1.0)
    print(f"\n## Identification of {EXCERPT_S:.0f} s excerpts at random offsets\n")
    print(
        f"index: {stats.hours:,.0f} h ({len(heldout)} real held-out songs + bulk); "
        f"{args.excerpts} excerpts per song per transform ({silent} silent excerpts skipped)\n"
    )
    print(
        "| transform | identified | rate | target | placed within 1 s | median score | "
        f"as a verdict finding (>= {MIN_FINDING_ALIGNED} anchors) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in TRANSFORMS:
        got = results[name]
        rate_ = sum(got) / max(len(got), 1)
        strong = as_finding[name]
        print(
            f"| {name} | {sum(got)}/{len(got)} | {rate_:.1%} | >= {TARGETS[name]:.0%} | "
            f"{sum(placed[name])}/{len(placed[name])} | {np.median(scores[name]) if scores[name] else 0:.3f} | "
            f"{sum(strong)}/{len(strong)} ({sum(strong) / max(len(strong), 1):.1%}) |"
        )

    for miss in misses:
        print(f"- missed: {miss}")

    # 4. False matches on unrelated audio.
    sources: list[Path] = [s.path for s in unrelated if s.group not in used_groups]
    sources += other_clips(args.corpus, min_s=EXCERPT_S, exclude_groups=used_groups)
    false = false_findings = 0
    unrelated_ms: list[float] = []
    examples = []
    for i in range(args.unrelated):
        path = sources[int(rng.integers(0, len(sources)))]
        info = sf.info(str(path))
        frames = int(EXCERPT_S * info.samplerate)
        start = int(rng.integers(0, max(info.frames - frames, 0) + 1))
        query, query_rate = sf.read(
            str(path), start=start, frames=frames, dtype="float32", always_2d=True
        )
        marks = landmarks(query, sr=query_rate)
        t1 = time.process_time()
        found = index.match(marks, limit=1)
        unrelated_ms.append((time.process_time() - t1) * 1e3)
        if found:
            false += 1
            false_findings += found[0].count >= MIN_FINDING_ALIGNED
            if len(examples) < 5:
                examples.append((str(path), start / info.samplerate, found[0].to_dict()))
        del i
    print("\n## False matches\n")
    print(
        f"{false} false matches in {args.unrelated} excerpts of {EXCERPT_S:.0f} s of unrelated audio "
        f"({len(sources)} files: train-split songs and corpus clips); {false_findings} of them "
        f"strong enough for a verdict finding (>= {MIN_FINDING_ALIGNED} agreeing anchors)"
    )
    for example in examples:
        print(f"- {example}")
    print("\n## Query latency (CPU, one core)\n")
    print("| what | p50 ms | p95 ms |")
    print("| --- | ---: | ---: |")
    print(
        f"| lookup + alignment, known excerpts | {pct(match_ms, 50):.1f} | {pct(match_ms, 95):.1f} |"
    )
    print(
        f"| lookup + alignment, unrelated excerpts | {pct(unrelated_ms, 50):.1f} | {pct(unrelated_ms, 95):.1f} |"
    )
    print(
        f"| fingerprint the 10 s query + lookup + alignment | {pct(query_ms, 50):.1f} | {pct(query_ms, 95):.1f} |"
    )
    index.close()
    if args.index_dir is None:
        shutil.rmtree(work_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
