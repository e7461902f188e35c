"""``python -m audioval_ingest`` runs the ingest service."""

from audioval_ingest.server import main

main()
