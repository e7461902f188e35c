"""A modem under music: where its tones take turns, for the receiver in :mod:`audiomodel.modem`.

A transmission is demodulated from the chunks kept around it, which also hold music before and
after it. Under music as loud as the modem the tone bands are as full of the music's energy
as of the modem's, so *how much* energy the tones hold does not say where the modem is on
(:func:`audiomodel.modem._trim_to_keying` keeps nearly everything there), and the receiver then
frames seconds of music too: the share of valid frames drops towards chance and a readable
modem is not reported.

*How* the tone bands move does say it: while a binary FSK keys, one band gains what the other
loses at every symbol change, so their fast parts (each band's energy over one symbol, less its
running mean over a few dozen symbols: the music's slow share) anti-correlate over any stretch
of a quarter second (-0.4 to -1.0 where a minimodem keys under music at -5..+6 dB, train
split), while the music around it leaves them uncorrelated or moving together (-0.2 to +1.0:
its onsets and held notes fill both bands at once). This is the statistic of
:mod:`audiomodel.keyed_bands`, read block by block along the kept audio at the pair's own
tones and rate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["keyed_stretch"]

Floats = npt.NDArray[np.float64]

BLOCK_S = 0.25  # a block: ~75 symbols at 300 Bd, enough changes for a correlation
MIN_BLOCK_SYMBOLS = 40
SLOW_SYMBOLS = 24  # each band's running mean over this many symbols is the music's share
# A block keys when its tone bands' fast parts anti-correlate at least this much: a minimodem
# keyed under music at -5..+6 dB reads -0.4 to -1.0 block by block, the music around it -0.2
# and up (its lowest blocks, where a glide moves a partial from one band to the other, -0.4).
KEYED_BLOCK_MAX = -0.3
MIN_KEYED_BLOCKS = 3  # a stretch of under ~0.75 s is left to the energy trim
BRIDGE_BLOCKS = 4  # up to a second the music garbles inside a transmission is bridged
EPS = 1e-20


def _symbol_energy(x: Floats, sr: float, freq: float, width: int, hop: int) -> Floats:
    """Energy at ``freq`` over one symbol (``width`` samples), every ``hop`` samples."""
    t = np.arange(x.size) / sr
    c = np.concatenate(([0], np.cumsum(x * np.exp(-2j * np.pi * freq * t))))
    window = c[width:] - c[:-width]
    out: Floats = np.abs(window[::hop]) ** 2
    return out


def _fast_part(e: Floats, span: int) -> Floats:
    """``e`` less its centred running mean over ``span`` values."""
    c = np.concatenate(([0.0], np.cumsum(e)))
    half = span // 2
    lo = np.clip(np.arange(e.size) - half, 0, e.size)
    hi = np.clip(np.arange(e.size) + span - half, 0, e.size)
    out: Floats = e - (c[hi] - c[lo]) / np.maximum(1, hi - lo)
    return out


def _block_hops(sr: float, width: int) -> int:
    """Looks (half a symbol apart) a block: ~``BLOCK_S``, and at least ``MIN_BLOCK_SYMBOLS``."""
    return max(2 * MIN_BLOCK_SYMBOLS, int(BLOCK_S * sr / max(1, width // 2)))


def block_turns(x: Floats, sr: float, f_low: float, f_high: float, baud: float) -> Floats:
    """Correlation of the two tone bands' fast parts in each block of ~``BLOCK_S`` of ``x``
    (near -1 where the tones take turns), shape (blocks,)."""
    width = max(2, round(sr / baud))
    hop = max(1, width // 2)  # two looks a symbol: every change is seen
    a = _symbol_energy(x, sr, f_low, width, hop)
    b = _symbol_energy(x, sr, f_high, width, hop)
    span = max(3, 2 * SLOW_SYMBOLS)  # in hops
    fa, fb = _fast_part(a, span), _fast_part(b, span)
    block = _block_hops(sr, width)
    n = fa.size // block
    if n == 0:
        return np.empty(0)
    fa = fa[: n * block].reshape(n, block)
    fb = fb[: n * block].reshape(n, block)
    fa = fa - fa.mean(axis=1, keepdims=True)
    fb = fb - fb.mean(axis=1, keepdims=True)
    out: Floats = (fa * fb).mean(axis=1) / (fa.std(axis=1) * fb.std(axis=1) + EPS)
    return out


def keyed_stretch(
    x: npt.NDArray[np.floating], sr: float, f_low: float, f_high: float, baud: float
) -> tuple[int, int] | None:
    """(first, last sample + 1) of the longest stretch of ``x`` where the tones ``f_low`` and
    ``f_high`` take turns at ``baud`` (blocks whose tone bands anti-correlate, a block or two
    between them bridged, half a block either side added); None when fewer than
    ``MIN_KEYED_BLOCKS`` blocks key.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Mono samples at ``sr`` (the audio kept around a transmission).
    sr : float
        Sample rate in Hz.
    f_low, f_high : float
        The pair's tones in Hz.
    baud : float
        The pair's symbol rate.
    """
    y = np.asarray(x, dtype=np.float64)
    turns = block_turns(y, sr, f_low, f_high, baud)
    keyed = np.flatnonzero(turns <= KEYED_BLOCK_MAX)
    if keyed.size < MIN_KEYED_BLOCKS:
        return None
    # runs of keyed blocks, gaps of up to BRIDGE_BLOCKS bridged; the one with the most blocks
    breaks = np.flatnonzero(np.diff(keyed) > BRIDGE_BLOCKS + 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [keyed.size - 1]))
    counts = ends - starts + 1
    k = int(np.argmax(counts))
    if counts[k] < MIN_KEYED_BLOCKS:
        return None
    width = max(2, round(sr / baud))
    block = _block_hops(sr, width) * max(1, width // 2)  # samples a block
    # a block either side: a block the modem fills in part may not read as keyed
    first = max(0, (int(keyed[starts[k]]) - 1) * block)
    last = (int(keyed[ends[k]]) + 2) * block + width
    if int(keyed[ends[k]]) == turns.size - 1:
        last = y.size  # the last whole block keys: the part after it is not judged, kept
    return first, min(y.size, last)
