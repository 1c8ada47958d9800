"""`python -m bot ...` runs the paperwatch command line."""

import sys

from bot.cli import main

sys.exit(main())
