import sys

from tests.jepsen.fuse.server import main

sys.exit(main())
