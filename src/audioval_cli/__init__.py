"""The audioval command line."""
