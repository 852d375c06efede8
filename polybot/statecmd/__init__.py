"""The state service's library: token auth, read-only queries, audited commands, the REP server.

Imports storage, bus, risk and config; never the venues, the executor or strategies. The runner
reads the strategy-mode file written here (``polybot.statecmd.modes``).
"""
