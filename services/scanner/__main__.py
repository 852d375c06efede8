"""``python -m services.scanner``."""

import sys

from polybot.stack.runtime import run_service
from services.scanner.service import main

sys.exit(run_service("scanner", main))
