import sys

from mlops_tui.tui.cli import main

sys.exit(main())
