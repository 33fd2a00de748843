"""The execlab dashboard: fills, slippage, positions against targets, equity, costs and the kill switch of one run.

``dashboard(journal, run_id)`` returns a Panel layout: display it in Jupyter, or serve it (``execlab dashboard``,
bound to 127.0.0.1). :func:`load_dashboard_data` reads the same frames without Panel, for a notebook or a test.
Panel is imported only when :func:`dashboard` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execlab._core.extras import require_extra
from execlab.dashboard._data import DashboardData, RiskStatus, load_dashboard_data, risk_status

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import panel as pn

    from execlab._brokers.executor import BrokerExecutor
    from execlab._data.bars import MarketData
    from execlab._oms.journal import Journal

__all__ = ["DashboardData", "RiskStatus", "dashboard", "load_dashboard_data", "risk_status"]


def dashboard(journal: Journal | str | Path, run_id: str, *, executor: BrokerExecutor | None = None,
              bars: pd.DataFrame | MarketData | None = None, refresh_seconds: float = 5.0,
              **kwargs: Any) -> pn.Column:
    """The dashboard of ``run_id`` as a Panel layout (servable; no server needed in Jupyter).

    See :func:`execlab.dashboard._app.dashboard` for the arguments.
    """
    require_extra("panel", "The dashboard")
    require_extra("hvplot", "The dashboard")
    from execlab.dashboard._app import dashboard as build

    return build(journal, run_id, executor=executor, bars=bars, refresh_seconds=refresh_seconds, **kwargs)
