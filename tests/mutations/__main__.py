"""`python -m tests.mutations`: the mutation check (see runner.py)."""

import sys

from .runner import main

sys.exit(main())
