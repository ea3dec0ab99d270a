"""`python -m lrexplorer` runs the command line, like the `lrexplorer` console script."""

import sys

from lrexplorer.cli import main

sys.exit(main())
