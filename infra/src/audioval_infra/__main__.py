"""The Pulumi program (``Pulumi.yaml`` runs this): read the stack's config, wire, export."""

import pulumi

from audioval_infra.config import load_config
from audioval_infra.stack import build_stack

for name, value in build_stack(load_config()).items():
    pulumi.export(name, value)
