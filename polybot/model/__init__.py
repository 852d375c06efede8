"""Domain model: pure data and rules (fees, ticks). No I/O; imports only polybot.core."""
