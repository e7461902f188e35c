"""``python -m audioval_rebuild``: run the rebuild worker until SIGTERM/SIGINT."""

from audioval_rebuild.server import main

main()
