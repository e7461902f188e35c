#!/app/.venv/bin/python
"""Container health check: ask a gRPC server's grpc.health.v1.Health whether it is SERVING.

Usage: grpc-health-probe [HOST:PORT [SERVICE]] [--timeout SECONDS]
Exits 0 when the status is SERVING, 1 otherwise (not serving, unreachable, too slow, or no port
to ask), so Docker's HEALTHCHECK and ECS' container health check can run it as is. Without an
address it asks 127.0.0.1 on the port the image's service listens on: ``AUDIOVAL_<SVC>_PORT``
for the service ``AUDIOVAL_SERVICE`` names, else the image's ``AUDIOVAL_SERVICE_PORT`` (the
order audioval-service applies). The images install it as /usr/local/bin/grpc-health-probe; the
shebang is the image's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def probe(address: str, service: str = "", timeout_s: float = 3.0) -> bool:
    """True when ``address`` reports ``service`` ("" = the whole server) as SERVING."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def service_address(environ: Mapping[str, str]) -> str | None:
    """``127.0.0.1:PORT`` of the image's own service, or None when the environment names none."""
    service = environ.get("AUDIOVAL_SERVICE", "")
    own = environ.get(f"AUDIOVAL_{service.upper()}_PORT") if service else None
    port = own or environ.get("AUDIOVAL_SERVICE_PORT")
    return f"127.0.0.1:{port}" if port else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grpc-health-probe", description=__doc__)
    parser.add_argument(
        "address", nargs="?", help="HOST:PORT of the gRPC server (default: the image's service)"
    )
    parser.add_argument("service", nargs="?", default="", help="service name ('' = server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for a reply")
    args = parser.parse_args(argv)
    address = args.address or service_address(os.environ)
    if address is None:
        sys.stderr.write("grpc-health-probe: no address, and no AUDIOVAL_SERVICE port to ask\n")
        return 1
    serving = probe(address, args.service, args.timeout)
    sys.stdout.write(("SERVING" if serving else "NOT SERVING") + "\n")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
