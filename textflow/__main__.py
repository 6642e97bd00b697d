"""``python -m textflow``: the ``textflow`` command."""

import sys

from textflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
