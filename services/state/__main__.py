"""``python -m services.state``."""

import sys

from polybot.stack.runtime import run_service
from services.state.service import main

sys.exit(run_service("state", main))
