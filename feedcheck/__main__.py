"""``python -m feedcheck`` runs the command line."""

import sys

from feedcheck.cli import main

sys.exit(main())
