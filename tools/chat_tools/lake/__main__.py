"""`python -m chat_tools.lake`: see chat_tools.lake.cli."""

import sys

from chat_tools.lake.cli import main

sys.exit(main())
