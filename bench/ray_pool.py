"""What the Ray actor pool costs per call, and how the batch job scales with CPUs.

Starts a private Ray head on loopback (token auth on, as ``audioval up`` does) and measures, in
one run:

1. **overhead**: the same 5 MB WAV judged by a direct ``validate_bytes`` call in this process
   and through ``ValidatorPool.submit`` (hand-over, dispatch, the actor's call, result), with
   the track handed over through the actor's shared buffer and through the object store,
   interleaved call by call. Two readings: the difference of the medians (what a caller sees,
   but two processes run the validator at slightly different speeds on a shared machine), and
   per call the pool's wall time minus the actor's whole call (the verdict's
   ``timings_ms["actor"]``): what the pool itself adds. For scale, Ray alone on this machine:
   the same bytes put in the object store and handed to an actor that only wraps them in a
   BytesIO, and a call with no data that keeps its actor busy as long as one validation (wall
   minus the busy time: what any Ray call that long costs here, with no bytes to move).
2. **scaling**: ``run_batch`` over one catalogue of generated tracks with a pool of 1 actor and
   of 2 actors (each actor takes one CPU), files/s and x realtime for the whole batch, and the
   ratio 2-actor / 1-actor.

Prints markdown tables; asserts nothing. Usage::

    uv run --frozen python bench/ray_pool.py                     # both parts
    uv run --frozen python bench/ray_pool.py --calls 40 --files 64 --seconds 30
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from audioval_localstack.ray_head import RayHead, ensure_token, ray_environment  # noqa: E402

RATE = 44100


def song(seconds: float, seed: int) -> bytes:
    from audioval_corpus.samples import synth_music

    clip = synth_music(min(seconds, 10.0), seed=seed)
    frames = int(seconds * RATE)
    audio = np.tile(clip, (-(-frames // len(clip)), 1))[:frames]
    audio = audio + np.random.default_rng(seed).normal(0, 3e-4, audio.shape).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, audio, RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class Floor:
    """An actor that takes the track the way ValidatorActor does and does nothing with it."""

    def take(self, content: bytes) -> int:
        return len(io.BytesIO(content).getbuffer())

    def busy(self, seconds: float) -> float:
        """Spin for ``seconds`` (a stand-in for the validator's work); the time it took."""
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            pass
        return time.perf_counter() - started


def overhead(calls: int) -> None:
    import ray

    from audiomodel import Limits, load_default_model, validate_bytes
    from audioval_classify.pool import ValidatorPool

    content = song(5_000_000 / (RATE * 4), seed=7)  # 16-bit stereo: 4 bytes a frame
    model = load_default_model()
    pools = {
        "ValidatorPool.submit, shared buffer": ValidatorPool(1, limits=Limits(), max_in_flight=2),
        "ValidatorPool.submit, object store": ValidatorPool(
            1, limits=Limits(), max_in_flight=2, share_memory=False
        ),
    }
    assert [pool.shared_actors for pool in pools.values()] == [1, 0]
    try:
        for _ in range(3):  # warm every path (imports, caches, the actors' first calls)
            validate_bytes(content, model=model)
            for pool in pools.values():
                pool.submit(content).result()
        floor_actor = ray.remote(Floor).remote()
        floor = []
        for _ in range(calls + 3):
            started = time.perf_counter()
            ray.get(floor_actor.take.remote(ray.put(content)))
            floor.append(time.perf_counter() - started)
        floor = floor[3:]
        # A call as long as a validation that carries no data: what Ray costs per call here.
        work_s = statistics.median(
            validate_bytes(content, model=model).timings_ms["total"] / 1e3 for _ in range(3)
        )
        idle_call = []
        for _ in range(calls + 3):
            started = time.perf_counter()
            spent = ray.get(floor_actor.busy.remote(work_s))
            idle_call.append(time.perf_counter() - started - spent)
        idle_call = idle_call[3:]
        ray.kill(floor_actor)
        walls: dict[str, list[float]] = {"direct validate_bytes": []}
        added: dict[str, list[float]] = {}
        for _ in range(calls):
            started = time.perf_counter()
            validate_bytes(content, model=model)
            walls["direct validate_bytes"].append(time.perf_counter() - started)
            for name, pool in pools.items():
                started = time.perf_counter()
                verdict = pool.submit(content).result()
                wall = time.perf_counter() - started
                walls.setdefault(name, []).append(wall)
                added.setdefault(name, []).append(wall - verdict.timings_ms["actor"] / 1e3)
    finally:
        for pool in pools.values():
            pool.close()
    walls["Ray alone: put + a call that only takes the bytes"] = floor
    added[f"Ray alone: a call with no data, busy {work_s * 1e3:.0f} ms"] = idle_call
    print(f"\n### Pool overhead per call ({len(content) / 1e6:.1f} MB WAV, {calls} calls each)\n")
    print("| path | median ms | p90 ms | wall - actor's call, median ms | p90 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in {**walls, **added}:
        cells = (
            [f"{_median_ms(walls[name]):.1f}", f"{_p90_ms(walls[name]):.1f}"]
            if name in walls
            else ["", ""]
        )
        if name in added:
            cells += [f"{_median_ms(added[name]):.2f}", f"{_p90_ms(added[name]):.2f}"]
        else:
            cells += ["", ""]
        print(f"| {name} | {' | '.join(cells)} |")
    direct = _median_ms(walls["direct validate_bytes"])
    for name in pools:
        pooled = _median_ms(walls[name])
        print(
            f"\n{name}: median difference pool - direct {pooled - direct:.2f} ms "
            f"({pooled / direct:.3f}x direct); wall - actor's call "
            f"**{_median_ms(added[name]):.2f} ms**"
        )


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def _p90_ms(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))] * 1e3


def scaling(files: int, seconds: float) -> None:
    from audiomodel import Limits
    from audioval_classify.batch import run_batch
    from audioval_classify.pool import ValidatorPool

    with tempfile.TemporaryDirectory(prefix="avbench-") as tmp:
        catalogue = Path(tmp) / "in"
        catalogue.mkdir()
        for i in range(files):
            (catalogue / f"track-{i:03d}.wav").write_bytes(song(seconds, seed=100 + i))
        rows = []
        for actors in (1, 2, 1, 2):  # twice each, alternating, so drift hits both
            pool = ValidatorPool(actors, limits=Limits(), max_in_flight=2 * actors)
            try:
                pool.submit(song(1.0, seed=1)).result()  # warm
                report = run_batch(str(catalogue), str(Path(tmp) / f"out-{len(rows)}"), pool)
            finally:
                pool.close()
            rows.append((actors, report))
    best = {
        n: max((r for a, r in rows if a == n), key=lambda r: r.judged / r.wall_s) for n in (1, 2)
    }
    print(f"\n### Batch scaling ({files} files x {seconds:.0f} s of 44.1 kHz stereo)\n")
    print("| actors (CPUs) | files/s | x realtime | wall s |")
    print("| ---: | ---: | ---: | ---: |")
    for n, report in best.items():
        rates = report.rates()
        print(f"| {n} | {rates['files_per_s']} | {rates['x_realtime']} | {report.wall_s:.2f} |")
    ratio = (best[2].judged / best[2].wall_s) / (best[1].judged / best[1].wall_s)
    print(f"\n2 CPUs / 1 CPU throughput: **{ratio:.2f}x** (best of two runs each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    token_dir = Path(tempfile.mkdtemp(prefix="avbench-token-"))
    token = token_dir / "auth_token"
    ensure_token(token)
    # Before Ray is imported: it reads its auth mode once.
    os.environ.update(ray_environment(token))
    import ray

    from audioval_classify.ray_connection import connect_ray

    with RayHead(num_cpus=2, token_path=token) as head:
        connect_ray(head.address)
        print(f"Ray head {head.address}, 2 logical CPUs; machine has {os.cpu_count()} cores")
        if not args.skip_overhead:
            overhead(args.calls)
        if not args.skip_scaling:
            scaling(args.files, args.seconds)
        ray.shutdown()


if __name__ == "__main__":
    main()
