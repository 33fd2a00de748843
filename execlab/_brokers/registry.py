"""The broker registry: each broker's config model, adapter factory, live endpoints and local venue, in one place.

Adding a broker is its files and one :func:`register_broker` line. Built-in entries name their parts by module
path (``"package.module:attribute"``), loaded on first use, so no SDK is imported when a config is validated or
``execlab`` is imported. Registering a broker also makes ``broker.name: <name>`` valid in a config
(:func:`execlab._config.register_broker_config`) and registers its live endpoints with the endpoint guard.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from execlab._brokers.contract import BrokerAdapter
from execlab._brokers.executor import BrokerExecutor
from execlab._config import BrokerConfig, Config, ConfigError, SimBrokerConfig, register_broker_config
from execlab._core.endpoints import LiveEndpoints, live_endpoints, register_live_endpoints
from execlab._oms.journal import Journal

__all__ = ["BrokerSpec", "broker_spec", "make_broker_executor", "register_broker", "registered_brokers"]

AdapterFactory = Callable[[BrokerConfig, Config], BrokerAdapter]
"""``(broker config, whole config) -> adapter``."""
VenueFactory = Callable[[Any], Any]
"""``(execlab.venues._base.cli.VenueOptions) -> a local venue, not started``."""


def _load(target: Any) -> Any:
    """``target`` itself, or the attribute a ``"module:attribute"`` path names (imported now)."""
    if not isinstance(target, str):
        return target
    module, sep, attribute = target.partition(":")
    if not sep:
        raise ValueError(f"{target!r} is not a 'module:attribute' path")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class BrokerSpec:
    """One broker: its config model (``name: Literal["<name>"]``, unknown keys refused), how to make its adapter,
    the endpoints that trade real money, and its local venue (for ``execlab venue <name>``).

    ``config_model``, ``make_adapter`` and ``make_venue`` may be ``"module:attribute"`` paths, loaded on first use.
    ``make_adapter`` None: the broker has no adapter (it cannot be traded through :class:`BrokerExecutor`).
    """

    name: str
    config_model: type[BrokerConfig] | str
    make_adapter: AdapterFactory | str | None
    live_endpoints: LiveEndpoints = field(default_factory=lambda: LiveEndpoints(frozenset()))
    make_venue: VenueFactory | str | None = None

    def load_config_model(self) -> type[BrokerConfig]:
        """The config model (imported now if given by path)."""
        return cast(type[BrokerConfig], _load(self.config_model))

    def adapter(self, broker: BrokerConfig, config: Config) -> BrokerAdapter:
        """A new adapter for ``broker`` (imports the broker's SDK)."""
        if self.make_adapter is None:
            raise ConfigError(f"broker.name: {self.name!r} has no broker adapter")
        return cast(AdapterFactory, _load(self.make_adapter))(broker, config)

    def venue(self, options: Any) -> Any:
        """A new (not started) local venue of this broker."""
        if self.make_venue is None:
            raise ConfigError(f"broker {self.name!r} has no local venue")
        return cast(VenueFactory, _load(self.make_venue))(options)


_SPECS: dict[str, BrokerSpec] = {}


def register_broker(spec: BrokerSpec) -> None:
    """Add (or replace) a broker: its name becomes valid in configs and its live endpoints are guarded."""
    _SPECS[spec.name] = spec
    register_broker_config(spec.name, spec.load_config_model)
    if spec.live_endpoints.hosts or spec.live_endpoints.ports:
        register_live_endpoints(spec.name, spec.live_endpoints.hosts, spec.live_endpoints.ports)


def broker_spec(name: str) -> BrokerSpec:
    """The registered broker ``name``; a :class:`ConfigError` lists the registered ones otherwise."""
    found = _SPECS.get(name)
    if found is None:
        raise ConfigError(f"broker.name: {name!r} is not a registered broker (registered: "
                          f"{', '.join(registered_brokers())})")
    return found


def registered_brokers() -> tuple[str, ...]:
    """Registered broker names, sorted."""
    return tuple(sorted(_SPECS))


def make_broker_executor(config: Config, journal: Journal, symbols: Sequence[str] = (), *,
                         progress: Callable[[str, str], None] | None = None,
                         read_only: bool = False) -> BrokerExecutor:
    """The :class:`BrokerExecutor` over the adapter ``config.broker`` names; its secrets are registered with the
    journal (never written) before anything is sent. ``read_only``: the run only reads the broker (a plan)."""
    spec = broker_spec(config.broker.name)
    journal.add_secret(*config.broker.secrets())
    adapter = spec.adapter(config.broker, config)
    adapter._bind_run(None if journal.path == ":memory:" else journal.path, read_only)
    return BrokerExecutor(adapter, journal, config.run_id, symbols, progress=progress, config=config.broker)


# -- the built-in brokers ---------------------------------------------------------------------------------------
register_broker(BrokerSpec("sim", SimBrokerConfig, "execlab._brokers.sim_adapter:make_sim_adapter"))
register_broker(BrokerSpec("alpaca", "execlab.adapters.alpaca._config:AlpacaConfig",
                           "execlab.adapters.alpaca._factory:make_adapter", live_endpoints("alpaca"),
                           "execlab.venues.alpaca._cli:make_venue"))
register_broker(BrokerSpec("ibkr", "execlab.adapters.ibkr._config:IBConfig",
                           "execlab.adapters.ibkr._factory:make_adapter", live_endpoints("ibkr"),
                           "execlab.venues.ibkr._cli:make_venue"))
