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
# # PolyBot · Strategy performance
# PnL and stats per strategy, the runner's strategy runs and the newest log lines.

# %%
from polybot.notebook import connect, dashboards

pb = connect()
pb.status()

# %%
dashboards.strategy_performance(pb)
