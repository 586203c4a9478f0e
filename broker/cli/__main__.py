"""`python -m rafka.broker.cli ...`: the `rafka` command, for child processes and tests."""

import sys

from rafka.broker.cli.main import main

sys.exit(main())
