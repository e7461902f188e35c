"""The plan of a corpus: which clip is cut from which source, which file carries which payload,
and the split of each, as :class:`Item` objects (a name, manifest fields, a maker of bytes).

The plan is a pure function of the seed and of what the machine holds (the packages' files and
the machine files of :mod:`audioval_corpus.machine_files`). Every file draws from its own
generator (:func:`audioval_corpus.seeding.keyed_rng` of its class and index), so adding files
to one class leaves the others as they were.

- :mod:`.corpus`: :func:`plan_corpus`, the whole plan in order.
- :mod:`.scales`: the scales (how many files of each class) and the bad classes.
- :mod:`.items`: :class:`Item`, :class:`StreamInfo`, :class:`PlanContext`, how files are named.
- :mod:`.splits`: the split by source.
- :mod:`.clips`: good files (clips of real recordings, originals).
- :mod:`.data_as_audio`: text, binaries, archives, base64, random bytes, synthetic signals.
- :mod:`.payloads`: payloads in real audio, lying sizes, LSB steganography.
"""

from audioval_corpus.plan.corpus import CorpusPlan, plan_corpus
from audioval_corpus.plan.items import Item, PlanContext, StreamInfo
from audioval_corpus.plan.scales import BAD_CLASSES, SCALES, Scale
from audioval_corpus.plan.splits import HELDOUT_SHARE, assign_splits

__all__ = [
    "BAD_CLASSES",
    "HELDOUT_SHARE",
    "SCALES",
    "CorpusPlan",
    "Item",
    "PlanContext",
    "Scale",
    "StreamInfo",
    "assign_splits",
    "plan_corpus",
]
