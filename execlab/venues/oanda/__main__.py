"""``python -m execlab.venues.oanda``: serve a local OANDA v20 venue until interrupted."""

import sys

from execlab.venues.oanda._cli import serve

if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
