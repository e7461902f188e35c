"""audioval classify service: judges tracks and serves their verdicts."""
