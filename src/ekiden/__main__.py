"""``python -m ekiden``: the same as the ``ekiden`` command."""

import sys

from ekiden.cli.main import main

sys.exit(main())
