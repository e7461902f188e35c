"""``python -m audioval_console``: serve the review console until SIGTERM/SIGINT."""

from audioval_console.server import main

main()
