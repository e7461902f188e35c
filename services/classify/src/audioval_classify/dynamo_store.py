"""Verdicts in the shared DynamoDB verdict table: exactly one per track, by conditional writes."""

from __future__ import annotations

from audioval.v1 import verdict_pb2
from audioval_pipeline.verdict_table import VerdictTable


class DynamoVerdictStore(VerdictTable):
    """The classify view of the table: the first verdict wins, later ones read it back."""

    def put_if_absent(self, verdict: verdict_pb2.Verdict) -> tuple[verdict_pb2.Verdict, bool]:
        if self.put_first(verdict):
            return verdict, True
        stored = self.get(verdict.track_id)
        if stored is None:  # a judged item always holds its verdict; keep ours if not
            return verdict, False
        return stored, False
