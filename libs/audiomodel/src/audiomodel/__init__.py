"""The shared audio model: what a track is, what its bytes and samples say, and the verdict.

The public API is the names in ``__all__``; import them from here
(``from audiomodel import validate_path, Limits, Verdict``). ``import audiomodel`` stays cheap:
the verdict and finding types are plain dataclasses and enums, and the names whose modules load
numpy, scipy and soundfile (the validator, the model) are imported on first use.

The modules, by what they hold:

- :mod:`~audiomodel.validator`: :func:`validate_path`, :func:`validate_bytes`,
  :func:`validate_stream` (never raise on bad input), :class:`Limits` and
  :func:`verdict_from_findings` (a verdict from findings alone, for callers whose validation
  failed);
- :mod:`~audiomodel.verdict`: :class:`Verdict`, :class:`Decision`, :class:`Label`,
  :class:`Thresholds` and the rule from findings and score to a decision;
- :mod:`~audiomodel.findings`: :class:`Finding`, :class:`Severity`, :func:`finding` and
  :data:`CODES`, the registry of every code (``FINDINGS.md``);
- :mod:`~audiomodel.model`: :class:`TreeEnsembleModel`, :func:`load_default_model`,
  :class:`ModelError`;
- the analyses the validator runs, each a package or module with its own front:
  :mod:`~audiomodel.container` (format, structure, trailing and embedded bytes),
  :mod:`~audiomodel.signal` (features of the decoded samples), :mod:`~audiomodel.stego` (the
  low bits), :mod:`~audiomodel.payload` (what a run of bytes is).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from audiomodel.findings import CODES, Finding, Severity, finding
from audiomodel.verdict import Decision, Label, Thresholds, Verdict

if TYPE_CHECKING:
    from audiomodel.model import ModelError, TreeEnsembleModel, load_default_model
    from audiomodel.validator import (
        Limits,
        validate_bytes,
        validate_path,
        validate_stream,
        verdict_from_findings,
    )

__all__ = [
    "CODES",
    "Decision",
    "Finding",
    "Label",
    "Limits",
    "ModelError",
    "Severity",
    "Thresholds",
    "TreeEnsembleModel",
    "Verdict",
    "finding",
    "load_default_model",
    "validate_bytes",
    "validate_path",
    "validate_stream",
    "verdict_from_findings",
]

# Names whose modules import numpy, scipy or soundfile: loaded on first access (PEP 562), so
# a caller that only reads verdicts (a gRPC servicer, the CLI's argument parser) pays nothing.
_LAZY = {
    "Limits": "audiomodel.validator",
    "validate_bytes": "audiomodel.validator",
    "validate_path": "audiomodel.validator",
    "validate_stream": "audiomodel.validator",
    "verdict_from_findings": "audiomodel.validator",
    "ModelError": "audiomodel.model",
    "TreeEnsembleModel": "audiomodel.model",
    "load_default_model": "audiomodel.model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'audiomodel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
