"""``python -m audioval_classify``: run the classify service until SIGTERM/SIGINT."""

from audioval_classify.server import main

main()
