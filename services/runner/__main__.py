"""``python -m services.runner``."""

import sys

from polybot.stack.runtime import run_service
from services.runner.service import main

sys.exit(run_service("runner", main))
