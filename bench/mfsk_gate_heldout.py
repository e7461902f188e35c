"""The MFSK gate on held-out variants (issue #17, session 18): own tone counts, spacings, rates and
frequencies that are not the dev set's (``bench/mfsk_slow.py``), alone, through Vorbis, and 40 s
bursts 6 dB under a three-minute track at two offsets; each read by the gated scanner and by the
ungated one (mfsk20's ``e24c712``, taken from git).

    uv run --frozen python bench/mfsk_gate_heldout.py [--track FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from audiomodel import mfsk

sys.path.insert(0, str(Path(__file__).parent))
from mfsk_slow import RATE, codec, gfsk

UNGATED = "e24c712:libs/audiomodel/src/audiomodel/mfsk.py"
VARIANTS: dict[str, dict[str, float | bool]] = {
    "8fsk 12.5Bd 25Hz @600": {"tones": 8, "baud": 12.5, "spacing": 25, "f0": 600},
    "32fsk 2.5Bd 5Hz @1800": {"tones": 32, "baud": 2.5, "spacing": 5, "f0": 1800},
    "4fsk 45Bd 90Hz @1100": {"tones": 4, "baud": 45, "spacing": 90, "f0": 1100},
    "64fsk 7Bd 7Hz @900": {"tones": 64, "baud": 7, "spacing": 7, "f0": 900},
    "ifk 18 6Bd 6Hz @2500": {"tones": 18, "baud": 6, "spacing": 6, "f0": 2500, "ifk": True},
    "gfsk bt0.8 8x12Hz 6Bd @1500": {"tones": 8, "baud": 6, "spacing": 12, "f0": 1500, "bt": 0.8},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--track", type=Path, default=Path("/work/bench17/tracks/track0.mp3"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mfsk_gate_"))
    source = subprocess.run(["git", "show", UNGATED], capture_output=True, text=True, check=True)
    (work / "mfsk_ungated.py").write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("mfsk_ungated", work / "mfsk_ungated.py")
    assert spec is not None and spec.loader is not None
    ungated = importlib.util.module_from_spec(spec)
    sys.modules["mfsk_ungated"] = ungated  # (its dataclasses look their module up)
    spec.loader.exec_module(ungated)
    track, rate = sf.read(args.track, dtype="float64", always_2d=True)
    track = track.mean(axis=1)
    t = np.arange(int(track.size * RATE / rate)) * rate / RATE
    track = np.interp(t, np.arange(track.size), track)
    rng = np.random.default_rng(77)
    gated = plain = total = 0
    for name, p in VARIANTS.items():
        x = gfsk(rng, seconds=40, **p)  # type: ignore[arg-type]
        x = x + rng.normal(0, 0.3, x.size)
        cases = {"alone": x, "vorbis": codec(x, "vorbis", work, name.replace(" ", "_"))}
        for offset in (37.0, 101.5):
            mix = track.copy()
            i = int(offset * RATE)
            seg = mix[i : i + x.size]
            mix[i : i + x.size] = seg + x[: seg.size] * np.std(seg) / np.std(x) * 10 ** (-6 / 20)
            cases[f"in track at {offset:.0f} s -6 dB"] = mix
        for case, y in cases.items():
            y = y.astype(np.float32)
            a, b = bool(mfsk.scan_mfsk(y, RATE)), bool(ungated.scan_mfsk(y, RATE))
            gated, plain, total = gated + a, plain + b, total + 1
            print(
                f"{name:30s} {case:24s} gated {'FLAG' if a else 'miss'} ungated {'FLAG' if b else 'miss'}"
            )
    print(f"held-out: gated {gated}, ungated {plain} of {total}")


if __name__ == "__main__":
    main()
