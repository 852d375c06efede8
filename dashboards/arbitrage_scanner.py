# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # PolyBot · Arbitrage scanner
# Live neg-risk events (YES asks should sum to 1) and binary complements (YES + NO), best edge first. Edges are before fees; this dashboard never trades.

# %%
from polybot.notebook import connect, dashboards

pb = connect()
pb.status()

# %%
dashboards.arbitrage_scanner(pb)
