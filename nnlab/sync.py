"""`python -m nnlab.sync`: log the runs kept on disk: see `nnlab.tracking.unlogged`."""

import sys

from nnlab.tracking.unlogged import main

if __name__ == "__main__":
    sys.exit(main())
