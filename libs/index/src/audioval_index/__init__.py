"""``audioval_index``: the fingerprint index (embedded: SQLite plus immutable sorted segments).

See ``libs/index/README.md`` for the layout, the sizes per hour of audio and how it shards.
"""

from audioval_index.identify import identify, match_findings, match_windows, with_findings
from audioval_index.store import (
    LISTS,
    FingerprintIndex,
    IndexStats,
    IndexStoreError,
    IndexWriter,
    Match,
    Reference,
    open_index,
)

__all__ = [
    "LISTS",
    "FingerprintIndex",
    "IndexStats",
    "IndexStoreError",
    "IndexWriter",
    "Match",
    "Reference",
    "identify",
    "match_findings",
    "match_windows",
    "open_index",
    "with_findings",
]
