"""``python -m execlab.venues.okx``: serve a local venue."""

import sys

from execlab.venues.okx._cli import serve

sys.exit(serve())
