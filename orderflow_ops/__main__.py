"""`python -m orderflow_ops replay ...`: see `orderflow_ops.cli`."""

import sys

from orderflow_ops.cli import main

sys.exit(main())
