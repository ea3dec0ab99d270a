"""`python -m lrexplorer` runs the command line, like the `lrexplorer` console script."""

import sys

from .cli import main

sys.exit(main())
