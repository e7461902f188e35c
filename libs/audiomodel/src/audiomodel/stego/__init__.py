"""LSB steganalysis of integer PCM: payloads carved from the low bits, and the share of them
that was replaced.

What is detected and what is not, with the measurements and the commands that produced them:
``libs/audiomodel/docs/steganalysis.md``. The validator runs it on 8-, 16-, 24- and 32-bit
integer PCM (FLAC included), never on float or lossy-decoded audio.

The modules, by what they hold:

- :mod:`~audiomodel.stego.analyzer`: :class:`LsbAnalyzer` (streamed, the validator's entry
  point), :func:`analyse_lsb` and the result, :class:`StegoReport` with its
  :data:`FEATURE_NAMES`;
- :mod:`~audiomodel.stego.carving`: file signatures, length-prefixed payloads, text and length
  headers read back out of the low bit planes (``stego.lsb_payload``,
  ``stego.lsb_length_header``);
- :mod:`~audiomodel.stego.statistics`: the weighted parity statistic, its flag rule
  (``stego.lsb_statistical``), :func:`~audiomodel.stego.statistics.lsb_determinism` and the
  quantisation-floor features;
- :mod:`~audiomodel.stego.lattice`: payloads in the empty low bits of audio stored wider than
  it was made (``stego.lsb_below_noise_floor``);
- :mod:`~audiomodel.stego.comb`: LSB replacement in coarse audio stored wider through a gain
  (a comb of isolated values whose teeth spread only to their low-bit pair partner; also
  ``stego.lsb_below_noise_floor``);
- :mod:`~audiomodel.stego.impulses`: lone samples displaced by several LSB where both
  neighbours predict them, as steghide's value exchanges leave them
  (``stego.displaced_samples``);
- :mod:`~audiomodel.stego.noise_floor`: +-1 embedding (LSB matching, steghide) read as white
  noise above the rounding floor where a band holds no sound, against the clip's own floor
  (``stego.lsb_noise_excess``; thresholds in ``model/stego-floor.json``);
- :mod:`~audiomodel.stego.kernels`: compiled loops (numba) some of the above run, each giving
  exactly what the numpy passes it replaces gave.
"""

from audiomodel.stego.analyzer import FEATURE_NAMES, LsbAnalyzer, StegoReport, analyse_lsb

__all__ = ["FEATURE_NAMES", "LsbAnalyzer", "StegoReport", "analyse_lsb"]
