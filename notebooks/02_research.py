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
# # Research: correlations, neg-risk sums, calibration
#
# Everything here reads the live stack without disturbing it: SQL through the analytics
# service's query endpoint, and the scanner's current books through a live feed.

# %%
import pandas as pd

from polybot.notebook import connect

pb = connect()
markets = pb.markets().df

# %% [markdown]
# ## Correlations of mid changes
# Which markets move together? `pb.correlations()` picks the most active tokens.

# %%
corr = pb.correlations(interval="10s", top=10)
corr

# %%
corr.plot()

# %%
corr.pairs(5)

# %% [markdown]
# ## Neg-risk sums
# In a neg-risk event exactly one market resolves YES, so the YES asks should sum to about 1.
# A sum below 1 (after fees) is a basket to buy; above 1 on the bids, one to sell.

# %%
feed = pb.watch()  # the whole universe
feed.wait_for(lambda f: len(f.prices) >= len(markets), timeout=30)
prices = feed.price_frame().set_index("token_id")

neg_risk = markets[markets.neg_risk.astype(bool)]
rows = []
for event, group in neg_risk.groupby("event_slug"):
    yes = prices.reindex(group.yes_token_id)
    rows.append({"event": event, "markets": len(group), "sum_asks": yes.ask.sum(),
                 "sum_bids": yes.bid.sum(), "priced": int(yes.ask.notna().sum())})
sums = pd.DataFrame(rows, columns=["event", "markets", "sum_asks", "sum_bids", "priced"])
sums["edge_buy"] = 1 - sums.sum_asks
sums

# %% [markdown]
# ## Complements
# A binary market's YES and NO asks should also sum to about 1.

# %%
binary = markets[~markets.neg_risk.astype(bool)]
pairs = pd.DataFrame({
    "question": binary.question.values,
    "yes_ask": prices.ask.reindex(binary.yes_token_id).values,
    "no_ask": prices.ask.reindex(binary.no_token_id).values,
})
pairs["sum_asks"] = pairs.yes_ask + pairs.no_ask
pairs.sort_values("sum_asks").head(10)

# %% [markdown]
# ## Calibration
# Are prices good probabilities? For tokens of markets that already resolved, compare the
# average recorded mid with how often such tokens won. Few markets resolve in a short session,
# so expect a sparse table at first; it fills up as the recording grows.

# %%
history = pb.sql("SELECT token_id, avg(mid) AS mid, count(*) AS ticks FROM price_history GROUP BY 1")
resolved = markets[markets.winning_token_id.notna()]
won = {t: t == w for m in resolved.itertuples() for t, w in
       ((m.yes_token_id, m.winning_token_id), (m.no_token_id, m.winning_token_id))}
scored = history[history.token_id.isin(list(won))].copy()
scored["won"] = scored.token_id.map(won).astype(float)
scored["bucket"] = (scored.mid * 5).clip(upper=4.999).astype(int) / 5
calibration = scored.groupby("bucket").agg(
    tokens=("token_id", "count"), mean_mid=("mid", "mean"), win_rate=("won", "mean")
)
calibration

# %%
feed.close()
