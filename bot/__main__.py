"""`python -m bot`: the same command line as `newsbot` (see bot/cli/)."""

import sys

from bot.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
