"""``python -m audiomodel.corpus build --out DIR [--scale small|full] [--seed N]``."""

import sys

from audiomodel.corpus.build import main

sys.exit(main())
