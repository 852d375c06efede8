"""Run the executor: ``python -m services.executor``."""

import sys

from polybot.stack.runtime import run_service
from services.executor.service import main

sys.exit(run_service("executor", main))
