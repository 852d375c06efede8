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
# # PolyBot · Market monitor
# Live prices and order books of every market. Filter the table, pick a market to see its books and mid chart.

# %%
from polybot.notebook import connect, dashboards

pb = connect()
pb.status()

# %%
dashboards.market_monitor(pb)
