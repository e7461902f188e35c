"""A square-wave synthesiser's notes, told from bits sent as the polarity of a level.

A chiptune lead, an arpeggio, a two-tone alarm or a siren made of a square (or pulse) oscillator
is two values, +v and -v (or -v - 1), perhaps after or before a silent head or tail: a few
values, as a constant, a counter or bytes 0x00/0xFF in runs are, so ``signal.synthetic`` holds
it unless it is one steady tone (``SignalAnalyzer._square_wave``). What an oscillator makes that
bits do not: each half period repeats the one a period before it (the same polarity, so a pulse
of any duty cycle counts) for as long as the note holds, and a note holds for at least a
sequencer's tick (a tracker steps its arpeggios once a frame: 50-60 Hz, 17-20 ms; a siren's
pitch glides by a sample a period or less). Bits sent as polarity (NRZ) hold each value for a
random whole number of bit times: a run equals the run two before it a third of the time
(geometric run lengths), so a chain of equal runs seldom lasts a few bits.

The reader keeps the run lengths of the channels' sum while the track has at most four values
(it stops for good at the fifth: ordinary sound stops it in its first block) and says whether
the sound is notes: ``NOTE_SHARE`` of the oscillating samples in notes, stretches of runs that each
match the run two before within a sample (or ``RUN_TOLERANCE``), each chain lasting
``NOTE_MIN_RUNS`` half periods and ``NOTE_MIN_S`` or more. Data keyed as the frequency of a square (FSK at tens of baud holds each
tone long enough to pass; already exempt as a steady square) is the modem scanner's
(``signal.modem``): this reader only says the values are a waveform and not a file's bytes. A
square with rests between its notes stays held: keyed on and off at tens of baud it is bits
(own held-out on-off keyed squares at 20 baud were held by ``signal.synthetic`` alone).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.quiet_codes import covered, runs_of

__all__ = ["NoteRuns"]

MAX_VALUES = 4  # the few-valued tracks signal.synthetic holds (distinct <= 4)
NOTE_MIN_S = 0.015  # a tracker's tick (50-60 Hz frames: 17-20 ms), a little under
NOTE_SHARE = 0.8  # of the oscillating samples in notes
NOTE_MIN_RUNS = 6  # half periods in a note: three cycles
RUN_TOLERANCE = 0.03  # a half period may differ from the one before it by this share (glides)
MIN_RUNS = 64  # half periods to judge on
PROBE_STRIDE = 61  # samples between the probe's values
MAX_RUNS = 1 << 20  # kept at most (a 24 kHz square for 40 s); the rest is not read


class NoteRuns:
    """Run lengths of a few-valued stream, block by block (``update``), and whether they are
    an oscillator's notes (``notes``)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._values: set[int] = set()
        self._active = True
        self._last: int | None = None  # the value of the run still open at the block's end
        self._open = 0  # its length so far
        self._runs: list[npt.NDArray[np.int64]] = []  # lengths of closed runs
        self._run_values: list[npt.NDArray[np.int64]] = []
        self._kept = 0

    def update(self, block: npt.NDArray[np.integer]) -> None:
        if not self._active or block.size == 0:
            return
        x = block.reshape(-1) if block.ndim == 1 else block[:, 0]
        # A sparse probe first: sound shows a fifth value in it and stops the reader before
        # any whole-block pass (0.1 ms a block on music, against a sort of the block).
        self._values.update(np.unique(x[::PROBE_STRIDE]).tolist())
        if len(self._values) <= MAX_VALUES:
            self._values.update(np.unique(x).tolist())
        if len(self._values) > MAX_VALUES or self._kept >= MAX_RUNS:
            self._active = False
            self._runs.clear()
            self._run_values.clear()
            return
        x = x.astype(np.int64, copy=False)
        starts = np.flatnonzero(x[1:] != x[:-1]) + 1
        if starts.size == 0:
            if self._last == int(x[0]):
                self._open += x.size
            else:
                self._close(self._open, self._last)
                self._last, self._open = int(x[0]), x.size
            return
        first = int(starts[0])
        if self._last == int(x[0]):
            self._close(self._open + first, self._last)
        else:
            self._close(self._open, self._last)
            self._close_many(np.array([first]), x[:1])
        lengths = np.diff(starts)
        self._close_many(lengths, x[starts[:-1]])
        self._last, self._open = int(x[starts[-1]]), x.size - int(starts[-1])

    def _close(self, length: int, value: int | None) -> None:
        if value is not None and length > 0:
            self._close_many(np.array([length]), np.array([value]))

    def _close_many(
        self, lengths: npt.NDArray[np.integer], values: npt.NDArray[np.integer]
    ) -> None:
        if lengths.size:
            self._runs.append(lengths.astype(np.int64))
            self._run_values.append(values.astype(np.int64))
            self._kept += lengths.size

    def notes(self) -> bool:
        """True when the stream has at most ``MAX_VALUES`` values, its non-zero values are one
        level's two polarities, it oscillates at an audible rate, and ``NOTE_SHARE`` of its
        oscillating samples lie in chains of half periods that repeat the one a period before
        (within ``RUN_TOLERANCE`` or a sample) for ``NOTE_MIN_S`` or more."""
        if not self._active or not self._runs:
            return False
        self._close(self._open, self._last)
        self._last, self._open = None, 0
        lengths = np.concatenate(self._runs)
        values = np.concatenate(self._run_values)
        levels = sorted({int(v) for v in values if v != 0})
        if len(levels) != 2 or levels[0] + levels[1] not in (0, -1) or levels[1] <= 0:
            return False
        sounding = values != 0
        half = float(np.median(lengths[sounding])) if sounding.any() else 0.0
        inner = ~sounding[1:-1]
        if np.any(lengths[1:-1][inner] >= half):
            # Rests between notes: a beeper keyed on and off (bits sent as on-off keying of a
            # square at tens of baud) is kept held with them. Not rests: a render's silent
            # head and tail, and a zero shorter than a half period where a note restarts.
            return False
        if int(sounding.sum()) < MIN_RUNS:
            return False
        # Audible: the median half period is under a 20 Hz cycle's half.
        if half > self.sample_rate / 40:
            return False
        # Run k matches run k - 2 (same polarity, one period before) with no rest between.
        tol = np.maximum(1, np.ceil(RUN_TOLERANCE * lengths[2:]))
        match = np.zeros(lengths.size, dtype=bool)
        match[2:] = (
            (np.abs(lengths[2:] - lengths[:-2]) <= tol)
            & sounding[2:]
            & sounding[1:-1]
            & sounding[:-2]
        )
        # Notes: stretches of consecutive matches k0..m cover the runs k0 - 2..m; a note is
        # NOTE_MIN_RUNS half periods (three cycles) or more and NOTE_MIN_S or longer. (Bits'
        # runs match by chance a third of the time: four matches in a row, 1 %.)
        begin, end = runs_of(match)
        begin -= 2
        csum = np.concatenate(([0], np.cumsum(lengths)))
        notes = (end - begin >= NOTE_MIN_RUNS) & (
            csum[end] - csum[begin] >= NOTE_MIN_S * self.sample_rate
        )
        in_notes_mask = covered(lengths.size, begin[notes], end[notes])
        in_notes = float(lengths[in_notes_mask & sounding].sum())
        total = float(lengths[sounding].sum())
        return in_notes >= NOTE_SHARE * total
