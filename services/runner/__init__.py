"""The strategy runner: hosts the enabled strategies on the live buses."""
