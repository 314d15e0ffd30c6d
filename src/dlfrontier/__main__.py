import sys

from dlfrontier.cli import main

sys.exit(main())
