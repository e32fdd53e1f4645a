"""`python -m cert_audit`: the command line (see cli.py)."""

import sys

from cert_audit.cli import main

sys.exit(main())
