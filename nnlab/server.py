"""`python -m nnlab.server`: see `nnlab.tracking.server`."""

import sys

from nnlab.tracking.server import main

if __name__ == "__main__":
    sys.exit(main())
