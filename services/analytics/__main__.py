"""``python -m services.analytics``."""

import sys

from polybot.stack.runtime import run_service
from services.analytics.service import main

sys.exit(run_service("analytics", main))
