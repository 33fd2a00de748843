"""The configuration: `Config` and each of its sections, the loader, the live-trading guard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execlab._core.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from execlab._config import (
        LIVE_ENDPOINTS as LIVE_ENDPOINTS,
    )
    from execlab._config import (
        LIVE_OPT_IN_PHRASE as LIVE_OPT_IN_PHRASE,
    )
    from execlab._config import (
        BrokerConfig as BrokerConfig,
    )
    from execlab._config import (
        Config as Config,
    )
    from execlab._config import (
        ConfigError as ConfigError,
    )
    from execlab._config import (
        DataConfig as DataConfig,
    )
    from execlab._config import (
        ExecutionConfig as ExecutionConfig,
    )
    from execlab._config import (
        ExecutionOverride as ExecutionOverride,
    )
    from execlab._config import (
        FeeConfig as FeeConfig,
    )
    from execlab._config import (
        MarginConfig as MarginConfig,
    )
    from execlab._config import (
        PlanConfig as PlanConfig,
    )
    from execlab._config import (
        RiskConfig as RiskConfig,
    )
    from execlab._config import (
        SlippageConfig as SlippageConfig,
    )
    from execlab._config import (
        SweepConfig as SweepConfig,
    )
    from execlab._config import (
        VenueConfig as VenueConfig,
    )
    from execlab._config import (
        load_config as load_config,
    )

#: Each public name and the module it is defined in. Adding a name is one line here.
_EXPORTS: dict[str, str] = {
    "SweepConfig": "execlab._config",
    "BrokerConfig": "execlab._config",
    "Config": "execlab._config",
    "ConfigError": "execlab._config",
    "DataConfig": "execlab._config",
    "ExecutionConfig": "execlab._config",
    "ExecutionOverride": "execlab._config",
    "FeeConfig": "execlab._config",
    "LIVE_ENDPOINTS": "execlab._config",
    "LIVE_OPT_IN_PHRASE": "execlab._config",
    "MarginConfig": "execlab._config",
    "PlanConfig": "execlab._config",
    "RiskConfig": "execlab._config",
    "SlippageConfig": "execlab._config",
    "VenueConfig": "execlab._config",
    "load_config": "execlab._config",
}

__all__, __getattr__, __dir__ = lazy_exports('execlab.config', _EXPORTS)

del annotations, TYPE_CHECKING, lazy_exports  # only the public names stay on the module
