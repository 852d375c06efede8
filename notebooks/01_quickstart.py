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
# # PolyBot quickstart
#
# Connect to the running stack, watch a market live, query its history and place a paper
# trade through the executor's risk checks. Start the stack first with `polybot up` (or run
# `pb.start()` below); by default it trades on PolyBot's local Polymarket, never real money.

# %%
from polybot.notebook import connect

pb = connect()  # the stack configured by env / polybot.toml
pb  # shows every service and its health

# %% [markdown]
# ## Markets
# The scanner lists every market of the venue. `pb.markets("text")` filters by question or slug.

# %%
markets = pb.markets()
markets

# %% [markdown]
# ## Watch a market live
# `pb.watch(market_id)` subscribes to that market's prices, books and trades. Messages are read
# on the kernel's event loop, *off the cell*: the views below keep updating while you run
# other cells, and a cell that blocks for a while does not lose the stream.

# %%
market = markets.df.iloc[0]
feed = pb.watch(market.market_id)
feed.wait_for(lambda f: len(f.prices) > 0, timeout=30)
feed.table()

# %%
feed.book_view(market.yes_token_id)

# %%
feed.chart()

# %%
feed.status  # messages, rate, gaps and how old the newest message is

# %% [markdown]
# ## History
# SQL over the analytics database *while the analytics service writes it* (the query runs in
# the owning service and comes back as a DataFrame).

# %%
pb.history.tables()

# %%
pb.sql(
    "SELECT token_id, count(*) AS ticks, avg(mid) AS avg_mid "
    "FROM price_history GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
)

# %%
candles = pb.ohlc(market.yes_token_id, "10s")
candles.plot()

# %% [markdown]
# ## A paper trade
# `pb.buy` sends a signal to the executor's PULL socket, exactly as a production strategy
# does, and waits for its fate on the events bus: accepted (with the order id) or rejected
# (with the risk rule that said no).

# %%
book = feed.book(market.yes_token_id)
price = book.asks[0][0] if book.asks else 0.5
ticket = pb.buy(market.yes_token_id, size=5, price=price, reason="quickstart")
ticket

# %%
too_big = pb.buy(market.yes_token_id, size=100_000, price=price)
too_big  # rejected: the rule and its numbers say why

# %%
pb.tickets()

# %%
pb.positions()

# %%
pb.risk()

# %%
feed.close()
