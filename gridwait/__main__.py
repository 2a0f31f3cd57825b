import sys

from gridwait.cli import main

sys.exit(main())
