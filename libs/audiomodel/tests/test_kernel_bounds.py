"""The compiled kernels stay inside their arrays on every sample layout, and the warm-up fills
the kernel cache.

numba does not check indices: a kernel that writes past its output corrupts the heap and the
process aborts later, somewhere else (a 32-bit file once did, in the stego stage). With
``NUMBA_DISABLE_JIT=1`` every kernel runs as plain Python, where numpy checks each index, so an
out-of-range read or write raises ``IndexError`` at the line that made it (and the validator
reports the file undecodable). ``python -m audiomodel.warmup`` judges a short clip of every
stored layout; it runs in a child process because numba reads its switches at import.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TypeGuard

import pytest

import audiomodel
from audiomodel.warmup import LAYOUTS


def _warm_up(**env: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "audiomodel.warmup"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_every_layout_is_judged_with_the_kernels_bounds_checked() -> None:
    codes = _warm_up(NUMBA_DISABLE_JIT="1")
    assert len(codes) == len(LAYOUTS)
    for layout, found in codes.items():
        assert "container.undecodable" not in found, (layout, found)


@pytest.mark.slow
def test_the_warm_up_leaves_every_kernel_in_the_cache(tmp_path: Path) -> None:
    codes = _warm_up(NUMBA_CACHE_DIR=str(tmp_path))
    assert len(codes) == len(LAYOUTS)
    cached = {path.name.split(".")[0] for path in tmp_path.rglob("*.nbi")}
    # the signal/window kernels and the steganalysis kernels both compiled and saved
    assert any(name.startswith("sample_kernels") for name in cached), cached
    assert any(name.startswith("kernels") for name in cached), cached
    assert any(name.startswith("modem_kernels") for name in cached), cached


def _signatures() -> dict[str, set[str]]:
    """Every loaded numba kernel's compiled signatures, by qualified name."""
    import gc

    from numba.core.registry import CPUDispatcher

    return {
        f"{d.py_func.__module__}.{d.py_func.__qualname__}": {str(s) for s in d.signatures}
        for d in gc.get_objects()
        if isinstance(d, CPUDispatcher)
    }


@pytest.mark.slow
def test_after_the_warm_up_a_streamed_track_needs_no_new_kernel_signature() -> None:
    """A track longer than a parity window and a noise-floor chunk meets its kernels in the
    layouts of a real upload (strided per-channel rows, whole windows): the warm-up must have
    loaded them all, or the first real track pays for loading or compiling them."""
    import io

    import numpy as np
    import soundfile as sf

    from audiomodel.validator import validate_bytes
    from audiomodel.warmup import warm_up

    warm_up()
    before = _signatures()
    rng = np.random.default_rng(3)
    rate = 44100
    t = np.arange(4 * rate) / rate
    music = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 3 * t) * rng.normal(
        0, 0.3, t.size
    )
    for subtype in sorted({subtype for subtype, _ in LAYOUTS}):
        for channels in (1, 2):
            out = io.BytesIO()
            sf.write(
                out,
                np.repeat(music[:, None], channels, axis=1),
                rate,
                subtype=subtype,
                format="WAV",
            )
            validate_bytes(out.getvalue())
    after = _signatures()
    new = {name: sigs - before.get(name, set()) for name, sigs in after.items()}
    assert not {name: sigs for name, sigs in new.items() if sigs}


def _is_kernel(node: ast.AST) -> TypeGuard[ast.FunctionDef]:
    return isinstance(node, ast.FunctionDef) and any(
        "njit" in ast.unparse(decorator) for decorator in node.decorator_list
    )


def _kernels_called_from_python() -> tuple[set[str], set[str]]:
    """(every numba kernel of the package, those a Python function names), by module.name,
    read from the sources: a kernel that only other kernels call is compiled with them."""
    root = Path(audiomodel.__file__).parent
    kernels: set[str] = set()
    named: set[str] = set()
    for path in root.rglob("*.py"):
        module = ".".join(("audiomodel", *path.relative_to(root).with_suffix("").parts))
        tree = ast.parse(path.read_text())
        outside: list[ast.AST] = []
        for node in ast.walk(tree):
            if _is_kernel(node):
                kernels.add(f"{module}.{node.name}")
        todo: list[ast.AST] = [tree]
        while todo:  # every node outside a kernel's body
            node = todo.pop()
            outside.append(node)
            todo += [child for child in ast.iter_child_nodes(node) if not _is_kernel(child)]
        named |= {n.id for n in outside if isinstance(n, ast.Name)}
        named |= {n.attr for n in outside if isinstance(n, ast.Attribute)}
    return kernels, {k for k in kernels if k.rsplit(".", 1)[1] in named}


_LOADED = """
import importlib, json, pkgutil
import audiomodel
from numba.core.registry import CPUDispatcher
for info in pkgutil.walk_packages(audiomodel.__path__, "audiomodel."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
from audiomodel.warmup import warm_up
warm_up()
print(json.dumps({
    f"{d.py_func.__module__}.{d.py_func.__name__}": len(d.signatures)
    for m in list(__import__("sys").modules.values()) if m and m.__name__.startswith("audiomodel")
    for d in vars(m).values() if isinstance(d, CPUDispatcher)
}))
"""


def test_kernels_are_found_in_the_sources() -> None:
    kernels, called = _kernels_called_from_python()
    assert "audiomodel.adpcm_kernels.track_ima" in called  # adpcm.ima_codes calls it
    assert "audiomodel.modem_kernels._numpy_sum" in kernels - called  # kernels only
    assert len(kernels) >= 50


@pytest.mark.slow
def test_the_warm_up_loads_every_kernel_python_calls() -> None:
    """A kernel the warm-up leaves cold is compiled (tens of seconds on an empty cache) or
    loaded inside the first real track that calls it: each one a Python function calls must
    have a signature after the warm-up, in a fresh process. A new kernel fails here until the
    warm-up reaches it (a clip that runs it, or a direct call as for the modem and ADPCM)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    loaded: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    kernels, called = _kernels_called_from_python()
    assert kernels <= set(loaded), kernels - set(loaded)
    assert not {k for k in called if loaded[k] == 0}
