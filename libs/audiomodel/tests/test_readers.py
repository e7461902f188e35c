"""The validator's reader protocol: who is fed what, in which order, timed to which stage."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding
from audiomodel.readers import Wired, feed, reports, wire


class _Recorder:
    """A reader that notes each block it is fed (into a log shared by all) and reports one
    finding naming itself."""

    def __init__(self, name: str, log: list[tuple[str, Any]]) -> None:
        self.name = name
        self.log = log

    def update(self, block: npt.NDArray[Any], /) -> None:
        self.log.append((self.name, block))

    def report(self) -> list[Finding]:
        self.log.append((self.name, "report"))
        return [finding("signal.clipping", self.name)]


def _wired(log: list[tuple[str, Any]]) -> list[Wired]:
    return [
        *wire("signal", "samples", _Recorder("codes", log), None),
        *wire("signal", "summed", _Recorder("grid", log)),
        *wire("modem", "summed", _Recorder("dtmf", log)),
        *wire("quiet", "stored", _Recorder("quiet", log)),
    ]


def test_each_reader_is_fed_its_part_of_the_block_in_order_and_lapped_to_its_stage() -> None:
    log: list[tuple[str, Any]] = []
    readers = _wired(log)
    assert [w.stage for w in readers] == ["signal", "signal", "modem", "quiet"]  # None dropped
    samples, summed, stored = np.zeros((4, 2), np.int16), np.zeros(4, np.int32), np.ones((4, 2))
    laps: list[str] = []
    feed(readers, samples, summed, stored, laps.append)
    assert [name for name, _ in log] == ["codes", "grid", "dtmf", "quiet"]
    assert [id(block) for _, block in log] == [id(samples), id(summed), id(summed), id(stored)]
    # every reader's CPU time is charged to its own stage, right after it ran
    assert laps == ["signal", "signal", "modem", "quiet"]


def test_a_reader_of_stored_values_is_not_fed_when_there_are_none() -> None:
    log: list[tuple[str, Any]] = []
    laps: list[str] = []
    feed(_wired(log), np.zeros((4, 2), np.int16), np.zeros(4, np.int32), None, laps.append)
    assert [name for name, _ in log] == ["codes", "grid", "dtmf"]
    assert laps == ["signal", "signal", "modem"]


def test_reports_are_gathered_stage_by_stage_in_list_order() -> None:
    log: list[tuple[str, Any]] = []
    readers = _wired(log)
    laps: list[str] = []
    assert [f.message for f in reports(readers, "signal", laps.append)] == ["codes", "grid"]
    assert [f.message for f in reports(readers, "quiet", laps.append)] == ["quiet"]
    assert [f.message for f in reports(readers, "stego", laps.append)] == []
    assert log == [("codes", "report"), ("grid", "report"), ("quiet", "report")]
    assert laps == ["signal", "quiet", "stego"]
