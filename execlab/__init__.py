"""execlab: target positions → orders → one OrderExecutor (backtest, paper, live) → what the trading cost."""
