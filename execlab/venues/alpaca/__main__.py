"""``python -m execlab.venues.alpaca``: serve a local Alpaca venue until interrupted."""

import sys

from execlab.venues.alpaca._cli import serve

if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
