#!/app/.venv/bin/python
"""Container entrypoint: become the service the image was built for.

Usage: audioval-service [ARGS...]
Reads ``AUDIOVAL_SERVICE`` (``ingest``, ``rebuild`` or ``classify``, set by the image's
``SERVICE`` build argument), gives the service the image's listening address where the
deployer named none (``AUDIOVAL_SERVICE_HOST``/``_PORT`` become ``AUDIOVAL_<SVC>_HOST``/``_PORT``
unless those are set), then replaces itself with ``python -m audioval_<svc> ARGS...``: exec, not
a child, so the service stays PID 1 and SIGTERM reaches its handler directly. The images install
it as /usr/local/bin/audioval-service; the shebang is the image's virtual environment.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Mapping

# The image-wide names and the service's own ones they stand in for.
DEFAULTS = {"AUDIOVAL_SERVICE_HOST": "HOST", "AUDIOVAL_SERVICE_PORT": "PORT"}


def service_environment(environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The module to run and its environment; ``ValueError`` names what is wrong."""
    service = environ.get("AUDIOVAL_SERVICE", "")
    if not re.fullmatch(r"[a-z]+", service):
        raise ValueError(f"AUDIOVAL_SERVICE must name a service, got {service!r}")
    module = f"audioval_{service}"
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"AUDIOVAL_SERVICE={service}: {module} is not installed in this image")
    env = dict(environ)
    for image_wide, setting in DEFAULTS.items():
        if environ.get(image_wide):
            env.setdefault(f"AUDIOVAL_{service.upper()}_{setting}", environ[image_wide])
    return module, env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        module, env = service_environment(os.environ)
    except ValueError as error:
        sys.stderr.write(f"audioval-service: {error}\n")
        return 2
    os.execve(sys.executable, [sys.executable, "-m", module, *args], env)
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
