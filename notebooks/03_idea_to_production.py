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
# # From idea to production
#
# Write a strategy, backtest it on recorded data, grid-search its parameters, deploy it to
# the production runner and watch it trade live — the same class everywhere.
#
# The runner is another process, so the strategy goes into a module it can import:
# `pb.strategy_dir` (under the data directory; `pb.start()` and the test stacks put it on the
# stack's `PYTHONPATH`).

# %%
from polybot.notebook import connect

pb = connect()
pb.strategy_dir

# %%
# %%writefile {pb.strategy_dir / "mean_revert.py"}
"""Buy a token when its mid drops well below its recent average; sell when it recovers."""

from polybot.strategies.base import Context, Strategy, StrategyConfig


class MeanRevertConfig(StrategyConfig, frozen=True, kw_only=True):
    edge: float = 0.03  # how far below the average (probability points) triggers a buy
    alpha: float = 0.1  # weight of the newest mid in the moving average
    size: float = 10.0  # shares per order
    max_position: float = 30.0  # shares held per token, at most


class MeanRevert(Strategy):
    """Fade dips of the mid against an exponential moving average."""

    Config = MeanRevertConfig
    config: MeanRevertConfig

    def __init__(self, config=None, /, **params):
        super().__init__(config, **params)
        self.average: dict[str, float] = {}

    def on_start(self, ctx: Context) -> None:
        ctx.subscribe()  # every token

    def on_book(self, ctx: Context, book) -> None:
        mid, bid, ask = book.mid, book.best_bid, book.best_ask
        if mid is None or bid is None or ask is None:
            return
        token = book.token_id
        average = self.average.get(token, mid)
        self.average[token] = average + self.config.alpha * (mid - average)
        held = float(ctx.position(token))
        if ctx.open_orders(token):
            return
        if mid < average - self.config.edge and held + self.config.size <= self.config.max_position:
            ctx.buy(token, self.config.size, ask, order_type="FAK", reason="dip")
        elif held > 0 and mid > average:
            ctx.sell(token, held, bid, order_type="FAK", reason="recovered")

# %%
lab = pb.import_strategies("mean_revert")  # the module written above
lab.MeanRevert(edge=0.02)  # parameters are typed; a typo gets a "did you mean" hint

# %% [markdown]
# ## Backtest
# On a recording of the local venue (generated offline and deterministic; `pb.recording()`
# is the stack's own recording once the scanner has run for a while).

# %%
data = pb.sample_data(minutes=10)
result = pb.backtest(lab.MeanRevert(edge=0.03), data)
result

# %%
result.plot()

# %% [markdown]
# ## Grid search

# %%
search = pb.optimize(lab.MeanRevert, data, edge=[0.02, 0.04], alpha=[0.05, 0.2])
search

# %%
search.heatmap("edge", "alpha")

# %% [markdown]
# ## Deploy
# `pb.deploy` writes the class and its config to `strategy_configs`; the runner picks it up
# and runs it live, sending its signals through the executor's risk checks like any other.

# %%
best = lab.MeanRevert(**{k: search.best.config[k] for k in ("edge", "alpha")})
pb.deploy(best, name="mean_revert_nb", wait=60)  # returns once the runner reports it

# %% [markdown]
# ## Watch it live
# Its signals go through the executor like any other strategy's; its decisions and fills
# show up in the runner's logs and the analytics tables.

# %%
pb.strategies()

# %%
pb.strategy_logs("mean_revert_nb")

# %%
pb.pnl_by_strategy()
