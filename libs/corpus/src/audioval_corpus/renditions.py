"""Good audio that looks most like data or a modem: the false-flag side of the evaluation.

None of it is in the Debian packages of the dev corpus, and each kind is what a detector of
keyed tones, held values or white low bits meets on a real platform:

- ``synth_music``: a sequenced synth track (saw/square pads through a one-pole filter, a bass
  line, a sixteenth-note arpeggio, noise hi-hats and a sine-sweep kick).
- ``chiptune``: a tracker-style sequencer driving pulse channels (12.5/25/50 % duty) that
  arpeggiate every 1/50 or 1/60 s frame, a 4-bit stepped triangle bass and a noise channel, as
  NES/Game Boy music is made (exact tones switching on a steady clock, like FSK).
- ``telephone``: an espeak-ng prompt with DTMF digits dialled before it, through sox's
  300-3400 Hz band at 8 kHz, often stored mu-law.
- ``test_tone``: sox test signals: a steady tone, a log sweep, two-tone, stepped frequencies.
- ``noise_sfx``: sox noise generators shaped into sound effects (wind, rain, an explosion, a
  whoosh, static).
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from audioval_corpus import tools
from audioval_corpus.specs import RenditionFormat, RenditionKind, RenditionSpec

__all__ = [
    "RENDITION_FORMATS",
    "RENDITION_KINDS",
    "chiptune_from_console",
    "render",
    "rendition_variant",
]

RENDITION_KINDS: tuple[RenditionKind, ...] = (
    "synth_music",
    "chiptune",
    "telephone",
    "test_tone",
    "noise_sfx",
)
RENDITION_FORMATS: tuple[RenditionFormat, ...] = ("wav16", "wav24", "flac", "mp3", "ogg")
_RATE = 44100
_PROMPTS = (
    "Thank you for calling. Please enter your account number followed by the pound key.",
    "Your call is important to us. Press one for sales, two for support.",
    "The number you have dialled is not in service. Please check the number and try again.",
    "You have three new messages. To listen to your messages, press one.",
    "Please hold while we transfer your call to the next available agent.",
)
_DTMF = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
    "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336),
    "*": (941, 1209), "#": (941, 1477),
}  # fmt: skip


def _midi(note: np.ndarray | float) -> np.ndarray:
    return np.asarray(440.0 * 2 ** ((np.asarray(note, dtype=np.float64) - 69) / 12))


def _phase(freq: np.ndarray, rate: int) -> np.ndarray:
    return np.cumsum(freq) / rate  # in cycles


def _envelope(n: int, rate: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / rate
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def _synth_music(rng: np.random.Generator, seconds: float) -> np.ndarray:
    bpm = float(rng.uniform(90, 140))
    step = 60 / bpm / 4
    n_steps = int(seconds / step)
    n = int(n_steps * step * _RATE)
    root = int(rng.integers(45, 57))
    scale = np.array([0, 2, 3, 5, 7, 8, 10, 12])
    chords = rng.choice(scale[:6], size=4)
    per_step = int(step * _RATE)
    out = np.zeros((n, 2))
    for s in range(n_steps):
        at = s * per_step
        bar = (s // 16) % 4
        chord = root + chords[bar] + np.array([0, 3, 7])
        arp = _midi(chord[s % 3] + 24)
        t = np.arange(per_step) / _RATE
        saw = 2 * ((arp * t) % 1.0) - 1
        out[at : at + per_step, 0] += 0.18 * saw * _envelope(per_step, _RATE, 0.005, 0.08)
        if s % 4 == 0:
            bass = np.sign(np.sin(2 * np.pi * _midi(chord[0] - 12) * t))
            out[at : at + per_step, :] += (
                0.2 * (bass * _envelope(per_step, _RATE, 0.01, 0.2))[:, None]
            )
            kick_f = 50 + 120 * np.exp(-t / 0.03)
            kick = np.sin(2 * np.pi * _phase(kick_f, _RATE)) * np.exp(-t / 0.12)
            out[at : at + per_step, :] += 0.35 * kick[:, None]
        if s % 2 == 1:
            hat = rng.normal(0, 1, per_step) * np.exp(-t / 0.02)
            hat = np.diff(hat, prepend=0.0)
            out[at : at + per_step, 1] += 0.05 * hat
    # a detuned pad under it all, low-passed by a one-pole filter
    t = np.arange(n) / _RATE
    pad_f = _midi(root + 12 + chords[(np.arange(n) // (16 * per_step)) % 4])
    pad = sum(2 * ((_phase(pad_f * d, _RATE)) % 1.0) - 1 for d in (0.995, 1.0, 1.006))
    a = float(rng.uniform(0.02, 0.08))
    from scipy.signal import lfilter

    pad = lfilter([a], [1, a - 1], pad)
    out += (
        0.08
        * np.stack([pad, np.roll(pad, 200)], axis=1)
        * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))[:, None]
    )
    return out


def _pulse(phase: np.ndarray, duty: float) -> np.ndarray:
    return np.where((phase % 1.0) < duty, 1.0, -1.0)


def _chiptune(rng: np.random.Generator, seconds: float, console: bool) -> np.ndarray:
    frame_rate = int(rng.choice([50, 60]))
    frame = _RATE // frame_rate
    n_frames = int(seconds * frame_rate)
    rows_per_beat = int(rng.choice([6, 8]))  # frames per tracker row
    root = int(rng.integers(57, 69))
    patterns = [rng.choice([0, 2, 4, 5, 7, 9, 11, 12], size=16) for _ in range(2)]
    duties = (0.125, 0.25, 0.5)
    lead_f = np.empty(n_frames * frame)
    bass_f = np.empty(n_frames * frame)
    noise_gate = np.zeros(n_frames * frame)
    duty_a = duties[int(rng.integers(3))]
    for f in range(n_frames):
        row = f // rows_per_beat
        note = root + patterns[(row // 16) % 2][row % 16]
        arpeggio = (0, 4, 7)[f % 3]  # the chord arpeggiated every frame
        lead_f[f * frame : (f + 1) * frame] = _midi(note + arpeggio)
        bass_f[f * frame : (f + 1) * frame] = _midi(note - 24)
        if row % 4 == 2 and f % rows_per_beat < 2:
            noise_gate[f * frame : (f + 1) * frame] = 1.0
    lead = _pulse(_phase(lead_f, _RATE), duty_a)
    # the NES triangle: 32 steps of a 4-bit ramp up and down
    tri_phase = _phase(bass_f, _RATE) % 1.0
    tri = np.floor(np.abs(tri_phase * 32 - 16)) / 7.5 - 1
    # a 15-bit LFSR noise channel, clocked at a fixed rate, held between clocks
    lfsr, bits = 1, []
    for _ in range(4096):
        bit = (lfsr ^ (lfsr >> 1)) & 1
        lfsr = (lfsr >> 1) | (bit << 14)
        bits.append(bit)
    noise = np.repeat(np.asarray(bits, dtype=np.float64) * 2 - 1, 4)
    noise = np.resize(noise, lead.size) * noise_gate
    mono = 0.25 * lead + 0.3 * tri + 0.12 * noise
    if console:
        # captured from the console: its output stage high-passes at ~37 and ~90 Hz and
        # low-passes at ~14 kHz (first order each); otherwise a plug-in's exact output
        from scipy.signal import butter, lfilter

        for kind, cut in (("highpass", 37.0), ("highpass", 90.0), ("lowpass", 14000.0)):
            b, a = butter(1, cut, btype=kind, fs=_RATE)
            mono = lfilter(b, a, mono)
    echo = np.concatenate([np.zeros(frame * 8), mono[: -frame * 8]]) * 0.3
    return np.stack([mono, 0.8 * mono + echo], axis=1)


def _telephone(rng: np.random.Generator, seconds: float, fmt: str) -> bytes:
    digits = "".join(rng.choice(list(_DTMF), size=int(rng.integers(4, 11))))
    tones = []
    for d in digits:
        lo, hi = _DTMF[d]
        n = int(float(rng.uniform(0.06, 0.12)) * 22050)
        t = np.arange(n) / 22050
        tones += [
            0.25 * (np.sin(2 * np.pi * lo * t) + np.sin(2 * np.pi * hi * t)),
            np.zeros(int(float(rng.uniform(0.05, 0.15)) * 22050)),
        ]
    prompt = _PROMPTS[int(rng.integers(len(_PROMPTS)))]
    voice = str(rng.choice(["en", "en-us", "en-gb", "en-gb-scotland", "en+f3", "en-us+m4"]))
    speech, _ = sf.read(
        io.BytesIO(tools.espeak(prompt, voice=voice, speed=int(rng.integers(130, 180))))
    )
    y = np.concatenate([*tones, np.zeros(4000), np.asarray(speech, dtype=np.float64)])[
        : int(seconds * 22050)
    ]
    y = y + rng.normal(0, 0.002, y.size)  # line noise
    out_args = ["-r", "8000", "-e", "mu-law"] if fmt == "ulaw8k" else ["-r", "8000", "-b", "16"]
    return tools.sox([tools.wav_bytes(y, 22050)], ["sinc", "300-3400"], out_args=out_args)


_TEST_TONES = ("steady sine", "log sweep", "two-tone (SMPTE IMD)", "stepped sines")
_NOISE_SFX = ("wind", "rain", "explosion", "whoosh", "static with hum")


def _test_tone(rng: np.random.Generator, seconds: float, kind: int) -> bytes:
    if kind == 0:
        synth = ["synth", f"{seconds:g}", "sine", str(rng.choice([440, 997, 1000, 1200]))]
    elif kind == 1:
        synth = ["synth", f"{seconds:g}", "sine", "20:20000"]  # a log sweep
    elif kind == 2:
        synth = ["synth", f"{seconds:g}", "sine", "60", "sine", "7000", "remix", "1,2"]  # SMPTE IMD
    else:  # stepped frequencies (a level-check sequence): one sox generator per step, joined
        f = int(rng.choice([250, 500, 1000]))
        steps = [
            _sox_synth(
                ["synth", f"{seconds / 3:g}", "sine", str(f * k)], ["fade", "0.005", "0", "0.005"]
            )
            for k in (1, 2, 4)
        ]
        x = np.concatenate([sf.read(io.BytesIO(b))[0] for b in steps])
        return tools.wav_bytes(x * float(rng.uniform(0.2, 0.7)), 48000, "PCM_24")
    return _sox_synth(
        synth, ["vol", f"{float(rng.uniform(0.2, 0.7)):.2f}", "fade", "0.01", "0", "0.01"]
    )


def _sox_synth(synth: list[str], effects: list[str]) -> bytes:
    """sox's own generators (``sox -n``) into a 48 kHz 24-bit mono WAV."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            ["sox", "-n", "-r", "48000", "-b", "24", "-c", "1", str(out), *synth, *effects],
            capture_output=True,
            check=True,
            timeout=120,
        )
        return out.read_bytes()


def _noise_sfx(rng: np.random.Generator, seconds: float, kind: int) -> bytes:
    s = f"{seconds:g}"
    if kind == 0:  # wind: brown noise, slow tremolo, band-passed
        synth, fx = ["synth", s, "brownnoise"], ["tremolo", "0.3", "60", "bandpass", "400", "2q"]
    elif kind == 1:  # rain: pink noise, high-passed, a little reverb
        synth, fx = ["synth", s, "pinknoise"], ["highpass", "1500", "reverb", "30"]
    elif kind == 2:  # an explosion: brown noise, low-passed, fast attack and long decay
        synth, fx = (
            ["synth", s, "brownnoise"],
            ["lowpass", "300", "fade", "q", "0.01", s, f"{seconds * 0.9:g}", "gain", "6"],
        )
    elif kind == 3:  # a whoosh: white noise swept through a band-pass by the fade
        synth, fx = (
            ["synth", s, "whitenoise"],
            ["bandpass", "2000", "1q", "fade", "t", f"{seconds / 2:g}", s, f"{seconds / 2:g}"],
        )
    else:  # radio static with a hum
        synth, fx = ["synth", s, "whitenoise", "synth", s, "sine", "mix", "50"], ["lowpass", "5000"]
    return _sox_synth(synth, [*fx, "vol", f"{float(rng.uniform(0.2, 0.6)):.2f}"])


def _store(x: np.ndarray, rate: int, fmt: str) -> bytes:
    peak = float(np.max(np.abs(x))) or 1.0
    x = 0.9 * x / peak
    if fmt == "wav16":
        return tools.wav_bytes(x, rate, "PCM_16")
    if fmt == "wav24":
        return tools.wav_bytes(x, rate, "PCM_24")
    if fmt == "flac":
        return tools.flac_encode(x, rate)
    if fmt == "mp3":
        return tools.lame_encode(x, rate, kbps=192)
    return tools.oggenc_encode(x, rate, quality=5)


def chiptune_from_console(spec: RenditionSpec) -> bool:
    """Whether a chiptune is captured through the console's output filter (half of them) or
    is a plug-in's exact output (square waves held at exact levels)."""
    return spec.seed % 2 == 0


def rendition_variant(spec: RenditionSpec) -> str:
    """What a rendition is, in words, beyond its kind: its format and its drawn sub-kind."""
    if spec.kind == "chiptune":
        what = "console output filter" if chiptune_from_console(spec) else "exact plug-in output"
    elif spec.kind == "test_tone":
        what = _TEST_TONES[spec.seed % len(_TEST_TONES)]
    elif spec.kind == "noise_sfx":
        what = _NOISE_SFX[spec.seed % len(_NOISE_SFX)]
    else:
        what = ""
    return f"{spec.fmt} {what}".strip()


def render(spec: RenditionSpec) -> bytes:
    """The bytes of one rendition."""
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "telephone":
        return _telephone(rng, spec.seconds, spec.fmt)
    if spec.kind in ("test_tone", "noise_sfx"):
        made = (
            _test_tone(rng, spec.seconds, spec.seed % len(_TEST_TONES))
            if spec.kind == "test_tone"
            else _noise_sfx(rng, spec.seconds, spec.seed % len(_NOISE_SFX))
        )
        if spec.fmt == "wav24":
            return made
        x, rate = sf.read(io.BytesIO(made), always_2d=True)
        return _store(x, rate, spec.fmt)
    x = (
        _synth_music(rng, spec.seconds)
        if spec.kind == "synth_music"
        else _chiptune(rng, spec.seconds, console=chiptune_from_console(spec))
    )
    return _store(x, _RATE, spec.fmt)
