"""`python -m nnlab.ui`: see `nnlab.tracking.ui`."""

import sys

from nnlab.tracking.ui import main

if __name__ == "__main__":
    sys.exit(main())
