"""``python -m textflow``: the ``textflow`` command."""

import sys

from textflow._cli import main

if __name__ == "__main__":
    sys.exit(main())
