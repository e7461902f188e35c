"""``manifest.jsonl``: one JSON object per corpus file, and the summary table a build prints."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audioval_corpus.plan import Item

__all__ = ["summary_table", "write_manifest"]


def write_manifest(items: Sequence[Item], out: Path) -> list[dict[str, Any]]:
    """Write ``manifest.jsonl`` for the items whose file exists; return the rows.

    A row is the item's :meth:`~audioval_corpus.plan.Item.manifest_fields` plus ``bytes`` and
    ``sha256`` of the file; rows are sorted by path.
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        path = out / item.rel
        if not path.exists():
            continue
        data = path.read_bytes()
        row = item.manifest_fields()
        row["bytes"] = len(data)
        row["sha256"] = hashlib.sha256(data).hexdigest()
        rows.append(row)
    rows.sort(key=lambda r: r["path"])
    tmp = out / "manifest.jsonl.part"
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    tmp.replace(out / "manifest.jsonl")
    return rows


def summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """Counts per threat class x split x format, with totals."""
    formats = sorted({r["format"] for r in rows})
    cols = [(s, f) for s in ("train", "heldout") for f in formats]
    counts = Counter((r["threat_class"], r["split"], r["format"]) for r in rows)
    classes = sorted(
        {r["threat_class"] for r in rows}, key=lambda c: (c not in ("real", "speech"), c)
    )
    head = ["class".ljust(20)] + [f"{s}/{f}".rjust(12) for s, f in cols] + ["total".rjust(7)]
    lines = [" ".join(head)]
    for cls in classes:
        cells = [counts[(cls, s, f)] for s, f in cols]
        lines.append(
            " ".join(
                [cls.ljust(20)] + [str(c).rjust(12) for c in cells] + [str(sum(cells)).rjust(7)]
            )
        )
    totals = [sum(counts[(c, s, f)] for c in classes) for s, f in cols]
    lines.append(
        " ".join(
            ["TOTAL".ljust(20)] + [str(t).rjust(12) for t in totals] + [str(sum(totals)).rjust(7)]
        )
    )
    labels = Counter((r["label"], r["split"]) for r in rows)
    lines.append(
        "good train/heldout: {}/{}   bad train/heldout: {}/{}".format(
            labels[("good", "train")],
            labels[("good", "heldout")],
            labels[("bad", "train")],
            labels[("bad", "heldout")],
        )
    )
    return "\n".join(lines)
