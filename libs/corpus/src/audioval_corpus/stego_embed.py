"""Plant a payload in the low bits of 16-bit PCM samples (LSB replacement), for the corpus.

This is the positive class of the steganalysis evaluation: it models the WAV loaders described
by Turla (2019) and BlackBerry Cylance (2019), which hide a payload in the least significant
bit(s) of the samples, starting at the first sample.

Bit layout (what :mod:`audiomodel.steganalysis` carves back):

* carriers are the samples in interleaved file order (frame 0 ch 0, frame 0 ch 1, frame 1 ch 0,
  ...), or channel 0 only when ``interleaved=False``;
* each carrier holds ``bits`` message bits in its low ``bits`` bits;
* ``bit_order="lsb_first"`` reads the message as one little-endian bit string (bit 0 of byte 0
  first; with ``bits=2`` a byte's low two bits go into the first carrier);
  ``"msb_first"`` reads it big-endian (bit 7 of byte 0 first; a byte's top two bits go into the
  first carrier's low two bits, the higher of them in bit 1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["embed_lsb"]

BitOrder = Literal["lsb_first", "msb_first"]


def _message_bits(message: np.ndarray, bit_order: str) -> np.ndarray:
    """Bits of ``message`` (uint8) in transmission order."""
    return np.unpackbits(message, bitorder="little" if bit_order == "lsb_first" else "big")


def embed_lsb(
    samples: np.ndarray,
    payload: bytes,
    *,
    bits: int = 1,
    fraction: float = 1.0,
    length_prefix: bool = False,
    bit_order: str = "lsb_first",
    interleaved: bool = True,
    seed: int = 0,
    fill: Literal["random", "repeat"] = "random",
) -> np.ndarray:
    """Return a copy of ``samples`` with ``payload`` written into their low ``bits`` bits.

    Parameters
    ----------
    samples : np.ndarray
        int16 samples, shape (frames, channels) (a 1-D array is taken as mono).
    payload : bytes
        The message. With ``length_prefix`` it is preceded by its length as a 4-byte
        little-endian unsigned integer.
    bits : int
        Low bits used per carrier sample, 1..8.
    fraction : float
        Share of the capacity (carriers x ``bits``) overwritten, from the first carrier on,
        in [0, 1]. A message shorter than that is followed by filler (``fill="random"``: bytes
        drawn from ``seed``, as an encrypted tail would look; ``"repeat"``: the message again);
        a longer one is cut.
    bit_order : {"lsb_first", "msb_first"}
        How bytes become bits; see the module docstring.
    interleaved : bool
        Use all channels in file order; otherwise channel 0 only.
    seed : int
        Seed of the filler bytes.
    fill : {"random", "repeat"}
        What fills the fraction after a short message.

    Returns
    -------
    np.ndarray
        A new int16 array, same shape as ``samples``.
    """
    if samples.dtype != np.int16:
        raise ValueError(f"samples must be int16, got {samples.dtype}")
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be in 1..8, got {bits}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if bit_order not in ("lsb_first", "msb_first"):
        raise ValueError(f"bit_order must be 'lsb_first' or 'msb_first', got {bit_order!r}")
    if fill not in ("random", "repeat"):
        raise ValueError(f"fill must be 'random' or 'repeat', got {fill!r}")

    out = np.array(samples, dtype=np.int16, copy=True, order="C")
    frames2d = out.reshape(out.shape[0], -1) if out.ndim > 1 else out.reshape(-1, 1)
    # Work on the unsigned view so masking does not depend on the sign bit.
    carriers = frames2d.reshape(-1) if interleaved else frames2d[:, 0]
    ucarriers = carriers.view(np.uint16)

    n_carriers = round(fraction * ucarriers.size)
    n_bits = n_carriers * bits
    if n_bits == 0:
        return out
    n_bytes = -(-n_bits // 8)

    body = (len(payload).to_bytes(4, "little") if length_prefix else b"") + payload
    message = np.frombuffer(body, dtype=np.uint8)
    if message.size < n_bytes:
        if fill == "repeat" and message.size:
            message = np.resize(message, n_bytes)
        else:
            filler = np.random.default_rng(seed).integers(0, 256, n_bytes - message.size)
            message = np.concatenate([message, filler.astype(np.uint8)])
    message = message[:n_bytes]

    stream = _message_bits(message, bit_order)[:n_bits].reshape(n_carriers, bits).astype(np.uint16)
    # Weight of each stream bit inside a carrier's low field: the first bit of a carrier is its
    # bit 0 for lsb_first and its bit (bits - 1) for msb_first.
    if bit_order == "lsb_first":
        weights = (1 << np.arange(bits)).astype(np.uint16)
    else:
        weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint16)
    values = (stream * weights).sum(axis=1, dtype=np.uint16)
    mask = np.uint16((1 << bits) - 1)
    # ucarriers is a view into ``out`` (strided for channel 0 only), so this writes in place.
    ucarriers[:n_carriers] = (ucarriers[:n_carriers] & ~mask) | values
    return out
