"""`python -m lrexplorer.cli` runs the command line, as `python -m lrexplorer` and the `lrexplorer` script do."""

import sys

from lrexplorer.cli import main

sys.exit(main())
