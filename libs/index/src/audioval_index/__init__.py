"""``audioval_index``: the fingerprint index (embedded: SQLite plus immutable sorted segments;
sharded: hash-range shards on Ray actors with segments in S3, :mod:`audioval_index.sharded`).

See ``libs/index/README.md`` for the layout, the sizes per hour of audio and how it shards.
"""

from audioval_index.identify import identify, match_findings, match_windows, with_findings
from audioval_index.sharded import S3Location, ShardedIndex
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
    "S3Location",
    "ShardedIndex",
    "identify",
    "match_findings",
    "match_windows",
    "open_index",
    "with_findings",
]
