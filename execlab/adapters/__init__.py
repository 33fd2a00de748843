"""Broker adapters: each one wraps a broker's real SDK behind :class:`execlab.BrokerAdapter`'s private hooks."""
