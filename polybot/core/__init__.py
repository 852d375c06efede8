"""Foundation pieces every layer may use: errors, clock, exact money. Imports nothing from polybot."""
