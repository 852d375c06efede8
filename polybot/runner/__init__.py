"""The production strategy runner's library: hosts configured strategies on the live buses.

Imports the engine, strategies (through their registry), storage and bus; never the executor's
or the scanner's libraries (they are siblings in the layer contract).
"""
