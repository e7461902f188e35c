"""Regenerate the audioval.v1 Python stubs from protos/ into libs/api/src/.

Usage: uv run --frozen python scripts/gen_protos.py [--out DIR]

The stubs are committed (so installing needs no codegen step and reviewers see API changes as
code); tests/test_api_stubs.py regenerates into a temporary directory and fails if anything differs.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
DEFAULT_OUT = ROOT / "libs" / "api" / "src"


def generate(out: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) over every .proto; return the files written."""
    protos = sorted(PROTO_ROOT.glob("audioval/v1/*.proto"))
    well_known = resources.files("grpc_tools") / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(p.relative_to(PROTO_ROOT)) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out / "audioval" / "v1").glob("*_pb2*.py*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    written = generate(parser.parse_args().out)
    sys.stdout.write("".join(f"{p}\n" for p in written))


if __name__ == "__main__":
    main()
