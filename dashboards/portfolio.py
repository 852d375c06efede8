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
# # PolyBot · Portfolio
# Positions, risk usage, exposure by market and the equity curve, refreshed every few seconds.

# %%
from polybot.notebook import connect, dashboards

pb = connect()
pb.status()

# %%
dashboards.portfolio(pb)
