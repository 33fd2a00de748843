"""``python -m execlab.venues.ibkr``: serve a local IB venue until interrupted."""

import sys

from execlab.venues.ibkr._cli import serve

if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
