"""PolyBot's service processes: thin composition roots, one per package (``python -m services.<name>``)."""
