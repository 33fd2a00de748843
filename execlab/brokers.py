"""Brokers: the adapter contract a broker implements, the broker executor around it, and every error a broker call or a
live rebalance can raise (`BrokerError` catches every broker failure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execlab._core.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from execlab._brokers.contract import (
        BrokerAdapter as BrokerAdapter,
    )
    from execlab._brokers.contract import (
        BrokerAuthError as BrokerAuthError,
    )
    from execlab._brokers.contract import (
        BrokerCircuitOpenError as BrokerCircuitOpenError,
    )
    from execlab._brokers.contract import (
        BrokerError as BrokerError,
    )
    from execlab._brokers.contract import (
        BrokerFill as BrokerFill,
    )
    from execlab._brokers.contract import (
        BrokerOrder as BrokerOrder,
    )
    from execlab._brokers.contract import (
        BrokerRateLimitedError as BrokerRateLimitedError,
    )
    from execlab._brokers.contract import (
        BrokerRejectedError as BrokerRejectedError,
    )
    from execlab._brokers.contract import (
        BrokerTimeoutError as BrokerTimeoutError,
    )
    from execlab._brokers.contract import (
        BrokerUnavailableError as BrokerUnavailableError,
    )
    from execlab._brokers.contract import (
        Capability as Capability,
    )
    from execlab._brokers.contract import (
        DuplicateClientOrderIdError as DuplicateClientOrderIdError,
    )
    from execlab._brokers.executor import (
        BrokerExecutor as BrokerExecutor,
    )
    from execlab._brokers.kill_switch import (
        KillSwitchReport as KillSwitchReport,
    )
    from execlab._brokers.kill_switch import (
        engage_kill_switch as engage_kill_switch,
    )
    from execlab._brokers.kill_switch import (
        halt_trading as halt_trading,
    )
    from execlab._brokers.kill_switch import (
        resume_trading as resume_trading,
    )
    from execlab._brokers.order_groups import (
        GroupRouter as GroupRouter,
    )
    from execlab._brokers.reconcile import (
        ReconcileReport as ReconcileReport,
    )
    from execlab._brokers.reconcile import (
        reconcile as reconcile,
    )
    from execlab._brokers.registry import (
        BrokerSpec as BrokerSpec,
    )
    from execlab._brokers.registry import (
        register_broker as register_broker,
    )
    from execlab._brokers.registry import (
        registered_brokers as registered_brokers,
    )
    from execlab._core.endpoints import (
        EndpointError as EndpointError,
    )
    from execlab._core.extras import (
        MissingExtraError as MissingExtraError,
    )
    from execlab._core.models import (
        Balance as Balance,
    )
    from execlab._execution.executor import (
        OrderExecutor as OrderExecutor,
    )
    from execlab._execution.factory import (
        make_executor as make_executor,
    )
    from execlab._runs.live import (
        TargetsChangedError as TargetsChangedError,
    )
    from execlab._runs.live import (
        TradingHaltedError as TradingHaltedError,
    )

#: Each public name and the module it is defined in. Adding a name is one line here.
_EXPORTS: dict[str, str] = {
    "BrokerTimeoutError": "execlab._brokers.contract",
    "BrokerAuthError": "execlab._brokers.contract",
    "registered_brokers": "execlab._brokers.registry",
    "register_broker": "execlab._brokers.registry",
    "BrokerSpec": "execlab._brokers.registry",
    "Balance": "execlab._core.models",
    "Capability": "execlab._brokers.contract",
    "BrokerFill": "execlab._brokers.contract",
    "BrokerAdapter": "execlab._brokers.contract",
    "BrokerCircuitOpenError": "execlab._brokers.contract",
    "BrokerError": "execlab._brokers.contract",
    "BrokerOrder": "execlab._brokers.contract",
    "BrokerRateLimitedError": "execlab._brokers.contract",
    "BrokerRejectedError": "execlab._brokers.contract",
    "BrokerUnavailableError": "execlab._brokers.contract",
    "DuplicateClientOrderIdError": "execlab._brokers.contract",
    "GroupRouter": "execlab._brokers.order_groups",
    "BrokerExecutor": "execlab._brokers.executor",
    "KillSwitchReport": "execlab._brokers.kill_switch",
    "engage_kill_switch": "execlab._brokers.kill_switch",
    "halt_trading": "execlab._brokers.kill_switch",
    "resume_trading": "execlab._brokers.kill_switch",
    "ReconcileReport": "execlab._brokers.reconcile",
    "reconcile": "execlab._brokers.reconcile",
    "EndpointError": "execlab._core.endpoints",
    "MissingExtraError": "execlab._core.extras",
    "OrderExecutor": "execlab._execution.executor",
    "make_executor": "execlab._execution.factory",
    "TargetsChangedError": "execlab._runs.live",
    "TradingHaltedError": "execlab._runs.live",
}

__all__, __getattr__, __dir__ = lazy_exports('execlab.brokers', _EXPORTS)

del annotations, TYPE_CHECKING, lazy_exports  # only the public names stay on the module
