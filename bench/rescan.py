"""Re-scan: one new known-bad reference against a 10,000-track catalogue index (issue #13).

Target: adding one known-bad reference finds its copies among the accepted tracks in < 10 s.

The catalogue (described, synthetic where it can be):

- ``--tracks`` (default 10,000) accepted tracks in the embedded index classify holds
  (``audioval_classify.identity.TrackIndex``). All but ``copies`` are synthetic 4-minute
  references whose hash values are drawn from the hashes of real songs (the corpus' train-split
  music, as ``bench/fingerprint.py`` grows its bulk) at the real songs' hashes per second, so a
  query collides with them as often as with that much real music: 10,000 tracks = 667 h,
  58 M postings.
- ``copies`` real copies of one held-out song (the future known-bad reference), each validated
  by ``audiomodel.validate_bytes(..., fingerprint=True)`` (its accept verdict stored in an
  in-memory verdict store, its landmarks from that same decode pass added to the catalogue under
  its track id): MP3 64 kbps, -9 dB + noise at 20 dB SNR, resampled to 48 kHz, 3 % faster, and a
  60 s excerpt as MP3.

Then the original song is added as a known-bad reference and ``audioval_classify.rescan.Rescan``
runs exactly as ``IndexService.AddReference`` runs it: the reference's landmarks window by window
against the index (no audio decoded again), matches of >= 12 agreeing anchors, each matching
accepted track's verdict superseded (reject, ``fingerprint.known_bad``) and published for
``WatchVerdicts``. Timed: wall and CPU seconds of the re-scan; found = copies superseded.

Usage::

    uv run --frozen python bench/rescan.py                  # 10,000 tracks
    uv run --frozen python bench/rescan.py --tracks 1000    # quick look
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from audiomodel import Decision, validate_bytes  # noqa: E402
from audiomodel.fingerprint import FRAME_RATE, Hashes, hashes, read_landmarks  # noqa: E402
from audioval_classify.identity import TrackIndex  # noqa: E402
from audioval_classify.rescan import Rescan  # noqa: E402
from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster  # noqa: E402
from audioval_servicekit.verdict_codec import to_proto  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "fpbench", Path(__file__).with_name("fingerprint.py")
)
assert _spec is not None and _spec.loader is not None
fpbench = importlib.util.module_from_spec(_spec)
sys.modules["fpbench"] = fpbench
_spec.loader.exec_module(fpbench)

TRACK_S = 240.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--debs", type=Path, default=fpbench.DEFAULT_CORPUS / "debs")
    parser.add_argument("--corpus", type=Path, default=fpbench.DEFAULT_CORPUS / "full-seed0")
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for tool in ("lame", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/rescan.py needs {tool} (apt: lame, sox)")
    rng = np.random.default_rng(args.seed)
    songs = fpbench.music_songs(args.debs, args.corpus / "manifest.jsonl", min_s=60.0)
    heldout = sorted((s for s in songs if s.split == "heldout"), key=lambda s: -s.duration_s)
    pool = [s for s in songs if s.split == "train"][::2]
    bad_song = heldout[0]
    work = Path(tempfile.mkdtemp(prefix="rescan-bench-"))
    index = TrackIndex.open(work / "index")
    store = InMemoryVerdictStore()
    broadcaster = VerdictBroadcaster(queue_size=1000)

    # The copies: real re-encodings of the song, judged with their landmarks kept.
    audio, rate = sf.read(str(bad_song.path), dtype="float32", always_2d=True)
    transforms = {
        "mp3-64k": lambda a: fpbench.mp3_64k(a, rate, work, rng),
        "gain-noise": lambda a: fpbench.gain_noise(a, rate, work, rng),
        "resample-48k": lambda a: fpbench.resample_48k(a, rate, work, rng),
        "speed-1.03": lambda a: fpbench.speed_103(a, rate, work, rng),
        "excerpt-60s-mp3": lambda a: fpbench.mp3_64k(a[30 * rate : 90 * rate], rate, work, rng),
    }
    copies: list[str] = []
    for name, transform in transforms.items():
        copy, copy_rate = transform(audio)
        buffer = io.BytesIO()
        sf.write(buffer, copy, copy_rate, format="WAV", subtype="PCM_16")
        verdict = validate_bytes(buffer.getvalue(), fingerprint=True)
        track_id = f"copy-{name}"
        store.put_if_absent(to_proto(verdict, track_id=track_id, user_id="bench"))
        if verdict.decision is Decision.ACCEPT and verdict.fingerprint is not None:
            index.admit(verdict.fingerprint, track_id)
            copies.append(track_id)
        else:
            print(f"copy {name} was judged {verdict.decision.value}: not in the catalogue")

    # The rest of the catalogue: synthetic tracks with real songs' hash statistics.
    real = [hashes(read_landmarks(s.path)) for s in pool]
    values, counts = np.unique(np.concatenate([h.hashes for h in real]), return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    per_s = sum(len(h) for h in real) / sum(s.duration_s for s in pool)
    per_track = round(per_s * TRACK_S)
    started = time.perf_counter()
    with index._index.writer() as writer:
        for i in range(args.tracks - len(copies)):
            drawn = values[
                np.searchsorted(cdf, rng.random(per_track), side="right").clip(0, values.size - 1)
            ]
            times = np.sort(rng.integers(0, int(TRACK_S * FRAME_RATE), per_track)).astype(np.uint32)
            writer.add_hashes(
                Hashes(drawn, times), duration_s=TRACK_S, list_name="catalogue", track_id=f"cat-{i}"
            )
    build_s = time.perf_counter() - started
    stats = index._index.stats()
    print(
        f"catalogue: {stats.references:,} accepted tracks ({len(copies)} real copies of "
        f"{bad_song.path.name}, {bad_song.duration_s:.0f} s; the rest synthetic 4-minute tracks at "
        f"{per_s:.1f} hashes/s), {stats.hours:,.0f} h, {stats.entries:,} postings, "
        f"{stats.bytes / 1e6:,.0f} MB, {stats.segments} segments; built in {build_s:.0f} s\n"
    )

    # The new known-bad reference, and the re-scan AddReference runs.
    bad = read_landmarks(bad_song.path)
    reference = index.add(bad, list_name="known-bad", path=str(bad_song.path))
    rescan = Rescan(index, store, broadcaster)
    wall, cpu = time.perf_counter(), time.process_time()
    superseded = rescan.run(reference, bad)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    found = sorted(s.track_id for s in superseded)
    wrong = [t for t in found if t not in copies]
    print(
        "| catalogue | reference | copies in catalogue | superseded (found) | wrongly superseded | wall s | CPU s | target |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {stats.references:,} tracks ({stats.hours:,.0f} h) | {bad.duration_s:.0f} s | "
        f"{len(copies)} | {len(found) - len(wrong)}/{len(copies)} | {len(wrong)} | {wall:.2f} | "
        f"{cpu:.2f} | < 10 s |"
    )
    for track_id in copies:
        print(f"- {track_id}: {'superseded (reject)' if track_id in found else 'missed'}")
    index.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
