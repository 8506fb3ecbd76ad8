"""`python -m chat_tools.stack`: make deploy-local (see chat_tools.stack.deploy)."""

import sys

from chat_tools.stack.deploy import main

sys.exit(main())
