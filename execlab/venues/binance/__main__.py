"""``python -m execlab.venues.binance``: serve a local venue."""

import sys

from execlab.venues.binance._cli import serve

sys.exit(serve())
