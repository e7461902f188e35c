"""``python -m audioval_corpus build --out DIR [--scale small|full] [--seed N]``."""

import sys

from audioval_corpus.cli import main

sys.exit(main())
