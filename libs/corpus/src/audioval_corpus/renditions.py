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

Beyond those five (:data:`RENDITION_KINDS`; their first ten files per kind keep their fixed
formats, later ones go through a converter chain), every file of these goes through a
:class:`~audioval_corpus.specs.Chain` (:mod:`audioval_corpus.conversion`: 8-96 kHz, 8/16/24-bit
with or without dither, float, FLAC, MP3, Vorbis, lossy round trips, clipped or limited
masters, quiet levels; a share of them a fraction of a second long):

- ``fm_synth``: two-operator FM electric piano, bells and a pad (exact frequency ratios).
- ``drum_machine``: an 808-style kit (sine-sweep kick, tone + noise snare, six-square-wave
  hats and cowbell, clap bursts) on an exact 16-step grid, some with swing.
- ``call_tones``: call progress tones of North American and European exchanges (dial,
  ringback, busy, reorder, special information tones) and a dialled DTMF number, 8 kHz in the
  telephone band. No speech, so no espeak-ng.
- ``test_signal``: pink and white noise, a square wave, a 31-tone multitone, a click track,
  tone bursts, a triangle sweep, and a tone 60-90 dB down (a dither test).
- ``room_tone``: silence with room noise: pink noise and mains hum, HVAC rumble, preamp hiss,
  and a room 75-85 dB down that truncation nearly zeroes.
- ``recording``: a real recording of a Debian package the corpus does not use
  (:data:`RECORDING_PACKAGES`: desktop sound themes, speech prompts, game effects and music).
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from audioval_corpus import tools
from audioval_corpus.conversion import STORE_EXTENSIONS, apply_chain, chain_variant
from audioval_corpus.specs import RenditionFormat, RenditionKind, RenditionSpec

__all__ = [
    "CHAIN_KINDS",
    "RECORDING_PACKAGES",
    "RENDITION_FORMATS",
    "RENDITION_KINDS",
    "chain_options",
    "chiptune_from_console",
    "read_recording",
    "render",
    "rendition_extension",
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
# Synthesised kinds whose every file goes through a converter chain.
CHAIN_KINDS: tuple[RenditionKind, ...] = (
    "fm_synth",
    "drum_machine",
    "call_tones",
    "test_signal",
    "room_tone",
)
# Debian packages with real recordings that the dev corpus (debian.DEBIAN_AUDIO_PACKAGES) does
# not use: sound themes and speech prompts, game effects and music, the ALSA speaker test's
# spoken channel names.
RECORDING_PACKAGES: tuple[str, ...] = (
    "alsa-utils",
    "sound-theme-freedesktop",
    "oxygen-sounds",
    "sound-icons",
    "solarwolf",
    "chromium-bsu-data",
    "lbreakout2-data",
    "ltris",
    "minetest-data",
    "pingus-data",
    "tuxpaint-data",
    "bzflag-data",
    "frozen-bubble-data",
)
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
    """sox's own generators (``sox -n``) into a 48 kHz 24-bit mono WAV, repeatably (``-R``: its
    noise generators and dither seeded alike every run)."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            ["sox", "-R", "-n", "-r", "48000", "-b", "24", "-c", "1", str(out), *synth, *effects],
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


def _fm_synth(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Two-operator FM: an electric piano (ratio 1, a tine at 14), bells (3.5) and a pad (2)."""
    from scipy.signal import lfilter

    bpm = float(rng.uniform(70, 130))
    step = 60 / bpm / 2
    n = max(1, int(seconds * _RATE))
    t_all = np.arange(n) / _RATE
    root = int(rng.integers(48, 60))
    progression = rng.choice([0, 2, 3, 5, 7, 8, 10], size=4)
    out = np.zeros((n, 2))
    voice = str(rng.choice(["epiano", "bell"]))
    ratio, index0, decay = (1.0, 2.5, 0.6) if voice == "epiano" else (3.5, 4.0, 1.4)
    for s in range(int(seconds / step)):
        if rng.random() < 0.3:
            continue  # a rest
        at = int(s * step * _RATE)
        length = min(n - at, int(decay * 3 * _RATE))
        if length <= 0:
            break
        bar = (s // 8) % 4
        chord = root + progression[bar] + np.array([0, 4, 7, 11, 12])
        f = float(_midi(chord[int(rng.integers(5))] + 12))
        t = np.arange(length) / _RATE
        env = _envelope(length, _RATE, 0.002, decay)
        index = index0 * np.exp(-t / (decay / 3))
        tone = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * ratio * t))
        if voice == "epiano":  # the tine's brief metallic attack
            tone += 0.3 * np.sin(2 * np.pi * f * 14 * t) * np.exp(-t / 0.01)
        pan = float(rng.uniform(0.2, 0.8))
        out[at : at + length, 0] += 0.2 * (1 - pan) * tone * env
        out[at : at + length, 1] += 0.2 * pan * tone * env
    chord_f = _midi(root + progression[(t_all // (8 * step)).astype(int) % 4])
    phase = _phase(chord_f, _RATE)
    pad = np.sin(2 * np.pi * phase + 1.0 * np.sin(2 * np.pi * 2 * phase))
    pad = lfilter([0.05], [1, -0.95], pad) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.2 * t_all))
    out += 0.1 * np.stack([pad, np.roll(pad, 331)], axis=1)
    return out


_HAT_SQUARES = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)  # the 808's six metallic oscillators


def _drum_machine(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """An 808-style kit on an exact 16-step grid (swing on some)."""
    from scipy.signal import butter, lfilter

    bpm = float(rng.uniform(85, 135))
    step = 60 / bpm / 4
    swing = float(rng.choice([0.0, 0.0, 0.12, 0.2]))
    n = max(1, int(seconds * _RATE))
    out = np.zeros((n, 2))

    def hit(length_s: float) -> np.ndarray:
        return np.arange(int(length_s * _RATE)) / _RATE

    t = hit(0.6)
    kick = np.sin(2 * np.pi * _phase(45 + 110 * np.exp(-t / 0.04), _RATE)) * np.exp(-t / 0.25)
    t = hit(0.25)
    b, a = butter(2, 1500, btype="highpass", fs=_RATE)
    snare = (np.sin(2 * np.pi * 180 * t) + 0.6 * np.sin(2 * np.pi * 330 * t)) * np.exp(-t / 0.05)
    snare = 0.5 * snare + lfilter(b, a, rng.normal(0, 0.5, t.size)) * np.exp(-t / 0.08)
    t = hit(0.4)
    metal = sum(_pulse(f * t, 0.5) for f in _HAT_SQUARES)
    b, a = butter(2, 7000, btype="highpass", fs=_RATE)
    metal = lfilter(b, a, metal) / 6
    closed, opened = (
        metal[: int(0.08 * _RATE)] * np.exp(-t[: int(0.08 * _RATE)] / 0.02),
        (metal * np.exp(-t / 0.15)),
    )
    b, a = butter(2, [700, 1500], btype="bandpass", fs=_RATE)
    cowbell = lfilter(b, a, _pulse(540 * t, 0.5) + _pulse(800 * t, 0.5)) * np.exp(-t / 0.1)
    clap_noise = rng.normal(0, 0.4, int(0.2 * _RATE))
    b, a = butter(2, [800, 2500], btype="bandpass", fs=_RATE)
    clap = lfilter(b, a, clap_noise) * np.concatenate(
        [np.tile(np.exp(-np.arange(int(0.01 * _RATE)) / (0.003 * _RATE)), 3),
         np.exp(-np.arange(int(0.2 * _RATE) - 3 * int(0.01 * _RATE)) / (0.05 * _RATE))]
    )  # fmt: skip
    pattern = {
        "kick": (rng.random(16) < 0.25) | (np.arange(16) % 4 == 0),
        "snare": np.isin(np.arange(16), (4, 12)) & (rng.random() < 0.8),
        "clap": np.isin(np.arange(16), (4, 12)) & (rng.random() < 0.4),
        "closed": rng.random(16) < 0.7,
        "open": np.isin(np.arange(16), (2, 6, 10, 14)) & (rng.random(16) < 0.3),
        "cowbell": rng.random(16) < 0.12,
    }
    sounds = {"kick": (kick, 0.5, 0.5), "snare": (snare, 0.45, 0.55), "clap": (clap, 0.4, 0.6),
              "closed": (closed, 0.3, 0.7), "open": (opened, 0.35, 0.65),
              "cowbell": (cowbell, 0.6, 0.4)}  # fmt: skip
    for s in range(int(np.ceil(seconds / step))):  # a clip shorter than a step still has its hit
        at = int((s * step + (swing * step if s % 2 else 0.0)) * _RATE)
        for name, hits in pattern.items():
            if not hits[s % 16] or at >= n:
                continue
            sound, left, right = sounds[name]
            length = min(n - at, sound.size)
            velocity = 0.6 if name == "closed" and s % 2 else 0.9
            out[at : at + length, 0] += velocity * left * sound[:length]
            out[at : at + length, 1] += velocity * right * sound[:length]
    return out


_CALL_TONES = ("north american", "european", "uk")


def _call_tones(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, int]:
    """Call progress tones and a dialled number, band-limited to 300-3400 Hz at 8 kHz."""
    from scipy.signal import butter, lfilter

    rate = 8000
    region = _CALL_TONES[int(rng.integers(3))]
    dial = (350.0, 440.0) if region == "north american" else (425.0,)
    ringback = {"north american": ((440.0, 480.0), [2.0, 4.0]), "european": ((425.0,), [1.0, 4.0]),
                "uk": ((400.0, 450.0), [0.4, 0.2, 0.4, 2.0])}[region]  # fmt: skip
    busy = ((480.0, 620.0), [0.5, 0.5]) if region == "north american" else ((425.0,), [0.375] * 2)
    parts: list[np.ndarray] = []

    def tone(freqs: tuple[float, ...], length: float) -> np.ndarray:
        t = np.arange(int(length * rate)) / rate
        return np.asarray(sum(np.sin(2 * np.pi * f * t) for f in freqs)) * 0.3 / len(freqs)

    def cadence(freqs: tuple[float, ...], on_off: list[float], length: float) -> np.ndarray:
        pieces, total, k = [], 0.0, 0
        while total < length:
            d = on_off[k % len(on_off)]
            pieces.append(tone(freqs, d) if k % 2 == 0 else np.zeros(int(d * rate)))
            total, k = total + d, k + 1
        return np.concatenate(pieces)

    parts.append(tone(dial, float(rng.uniform(0.8, 2.5))))
    for digit in rng.choice(list(_DTMF), size=int(rng.integers(7, 12))):
        parts += [
            tone(_DTMF[str(digit)], float(rng.uniform(0.07, 0.2))),
            np.zeros(int(float(rng.uniform(0.06, 0.4)) * rate)),
        ]
    ending = int(rng.integers(4))
    rest = max(1.0, seconds - sum(p.size for p in parts) / rate)
    if ending == 0:
        parts.append(cadence(ringback[0], ringback[1], rest))
    elif ending == 1:
        parts.append(cadence(busy[0], busy[1], rest))
    elif ending == 2:  # reorder (fast busy)
        parts.append(cadence(busy[0], [0.25, 0.25], rest))
    else:  # special information tones, then silence on the line
        for f, d in ((913.8, 0.274), (1370.6, 0.274), (1776.7, 0.380)):
            parts.append(tone((f,), d))
        parts.append(np.zeros(int(rest * rate)))
    y = np.concatenate(parts)[: max(1, int(seconds * rate))]
    y = y + rng.normal(0, float(rng.uniform(0.0005, 0.004)), y.size)  # line noise
    b, a = butter(4, [300, 3400], btype="bandpass", fs=rate)
    return np.asarray(lfilter(b, a, y)), rate


_TEST_SIGNALS = (
    "pink noise",
    "white noise",
    "square wave",
    "multitone",
    "click track",
    "tone bursts",
    "triangle sweep",
    "low-level tone",
)


def _test_signal(rng: np.random.Generator, seconds: float, kind: int) -> tuple[np.ndarray, int]:
    rate = 48000
    n = max(1, int(seconds * rate))
    t = np.arange(n) / rate
    if kind in (0, 1, 2, 6):
        synth = {0: ["pinknoise"], 1: ["whitenoise"],
                 2: ["square", str(rng.choice([100, 440, 1000]))],
                 6: ["triangle", f"{int(rng.choice([20, 100]))}:{int(rng.choice([8000, 20000]))}"]
                 }[kind]  # fmt: skip
        made = _sox_synth(["synth", f"{seconds:g}", *synth], [])
        x, _ = sf.read(io.BytesIO(made), dtype="float64")
        return np.asarray(x), rate
    if kind == 3:  # 31 tones on a third-octave grid, random phases (a multitone test signal)
        freqs = 1000 * 2 ** (np.arange(-15, 16) / 3)
        phases = rng.uniform(0, 2 * np.pi, freqs.size)
        return np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).sum(0), rate
    if kind == 4:  # a click track: 1 kHz blips on the beat, 1.5 kHz on the downbeat
        bpm = float(rng.uniform(60, 180))
        y = np.zeros(n)
        blip = np.arange(int(0.02 * rate)) / rate
        for k, at in enumerate(np.arange(0, seconds, 60 / bpm)):
            i = int(at * rate)
            f = 1500.0 if k % 4 == 0 else 1000.0
            piece = np.sin(2 * np.pi * f * blip) * np.exp(-blip / 0.005)
            y[i : i + piece.size] += piece[: n - i]
        return y, rate
    if kind == 5:  # 1 kHz bursts, on and off on a steady clock
        on = float(rng.choice([0.1, 0.5, 1.0]))
        return np.sin(2 * np.pi * 1000 * t) * ((t // on) % 2 == 0), rate
    return np.sin(2 * np.pi * float(rng.choice([997, 1000])) * t), rate  # its level: the chain's


_ROOM_TONES = ("pink room with hum", "hvac rumble", "preamp hiss", "near silence")


def _room_tone(rng: np.random.Generator, seconds: float, kind: int) -> tuple[np.ndarray, int]:
    from scipy.signal import butter, lfilter

    rate = 48000
    n = max(1, int(seconds * rate))
    t = np.arange(n) / rate
    white = rng.normal(0, 1, (n, 2))
    if kind == 1:  # an air handler: brown noise low-passed, a slow wobble
        b, a = butter(2, 200, fs=rate)
        y = lfilter(b, a, np.cumsum(white, axis=0) * 0.01, axis=0)
        y = y - y.mean(axis=0)
        return y * (1 + 0.2 * np.sin(2 * np.pi * 0.3 * t))[:, None], rate
    if kind == 2:  # a microphone preamp's hiss, band-limited by the converter
        b, a = butter(4, 16000, fs=rate)
        return lfilter(b, a, white, axis=0), rate
    # pink-ish room noise (-3 dB/octave by a sum of one-pole filters) with mains hum
    pink = sum(lfilter([1 - p], [1, -p], white, axis=0) * w
               for p, w in ((0.99, 1.0), (0.9, 0.5), (0.5, 0.25)))  # fmt: skip
    mains = float(rng.choice([50.0, 60.0]))
    hum = np.asarray(sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3, 5)))
    return pink + (0.3 if kind == 0 else 0.05) * hum[:, None], rate


def _chain_level(spec: RenditionSpec) -> tuple[float, float] | None:
    """The dBFS range of a kind whose level is part of what it is."""
    if spec.kind == "room_tone":
        return (-85.0, -75.0) if spec.seed % len(_ROOM_TONES) == 3 else (-70.0, -45.0)
    if spec.kind == "test_signal" and spec.seed % len(_TEST_SIGNALS) == 7:
        return (-90.0, -60.0)
    if spec.kind == "test_signal":
        return (-20.0, -1.0)
    return None


def chain_options(spec: RenditionSpec) -> dict[str, object]:
    """What :func:`~audioval_corpus.conversion.draw_chain` may draw for a rendition."""
    options: dict[str, object] = {"level": _chain_level(spec)}
    if spec.kind in ("telephone", "call_tones"):
        options["rates"] = (8000, 8000, 8000, 16000, 44100, 48000)
    if spec.kind == "room_tone":
        options["rates"] = (44100, 48000, 48000, 96000)
    return options


def read_recording(path: str, start: float, seconds: float) -> tuple[np.ndarray, int]:
    """``seconds`` of a recording from ``start`` (float, frames x channels)."""
    with sf.SoundFile(path) as handle:
        rate = handle.samplerate
        handle.seek(min(int(start * rate), max(0, handle.frames - 1)))
        x = handle.read(frames=max(1, int(seconds * rate)), dtype="float64", always_2d=True)
    return np.asarray(x), rate


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
    elif spec.kind == "test_signal":
        what = _TEST_SIGNALS[spec.seed % len(_TEST_SIGNALS)]
    elif spec.kind == "room_tone":
        what = _ROOM_TONES[spec.seed % len(_ROOM_TONES)]
    elif spec.kind == "recording":
        what = (spec.source or "").split(":")[0]
    else:
        what = ""
    if spec.chain is not None:
        return f"{what + ', ' if what else ''}{spec.seconds:g} s {chain_variant(spec.chain)}"
    return f"{spec.fmt} {what}".strip()


def _source(spec: RenditionSpec, recording: str | None) -> tuple[np.ndarray, int]:
    """The rendition before any storing: float (frames x channels) and its rate."""
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "recording":
        if recording is None:
            raise ValueError(f"a recording rendition needs its file ({spec.source})")
        return read_recording(recording, spec.start or 0.0, spec.seconds)
    if spec.kind == "fm_synth":
        return _fm_synth(rng, spec.seconds), _RATE
    if spec.kind == "drum_machine":
        return _drum_machine(rng, spec.seconds), _RATE
    if spec.kind == "call_tones":
        return _call_tones(rng, spec.seconds)
    if spec.kind == "test_signal":
        return _test_signal(rng, spec.seconds, spec.seed % len(_TEST_SIGNALS))
    if spec.kind == "room_tone":
        return _room_tone(rng, spec.seconds, spec.seed % len(_ROOM_TONES))
    if spec.kind in ("synth_music", "chiptune"):
        made = (
            _synth_music(rng, spec.seconds)
            if spec.kind == "synth_music"
            else _chiptune(rng, spec.seconds, console=chiptune_from_console(spec))
        )
        return made, _RATE
    if spec.kind == "telephone":
        blob = _telephone(rng, spec.seconds, "wav16")
    elif spec.kind == "test_tone":
        blob = _test_tone(rng, spec.seconds, spec.seed % len(_TEST_TONES))
    else:
        blob = _noise_sfx(rng, spec.seconds, spec.seed % len(_NOISE_SFX))
    x, rate = sf.read(io.BytesIO(blob), dtype="float64", always_2d=True)
    return np.asarray(x), int(rate)


def rendition_extension(spec: RenditionSpec) -> str:
    """The file extension of a rendition."""
    if spec.chain is not None:
        return STORE_EXTENSIONS[spec.chain.store]
    return "wav" if spec.fmt in ("wav16", "wav24", "ulaw8k") else spec.fmt


def render(spec: RenditionSpec, recording: str | None = None) -> bytes:
    """The bytes of one rendition (``recording``: the file of a ``recording`` rendition)."""
    if spec.chain is not None:
        x, rate = _source(spec, recording)
        return apply_chain(x, rate, spec.chain)[0]
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
