"""The executor's library: signal intake, risk, orders, venues, reconciliation and fates.

Every signal pulled from ``signals.push`` goes through :class:`~polybot.execution.executor.Executor`
(validate → risk gate → journal → sign and submit → track → positions and PnL → events). The
service in ``services/executor`` only wires this package to sockets. See docs/life-of-a-signal.md.
"""

from polybot.execution.executor import Executor, ExecutorConfig

__all__ = ["Executor", "ExecutorConfig"]
