"""A local OKX v5 venue for ccxt and ccxt.pro: REST ``/api/v5`` and the private websocket."""

from execlab.venues.okx._venue import DEFAULT_API_KEY, DEFAULT_PASSPHRASE, DEFAULT_SECRET, OkxVenue

__all__ = ["DEFAULT_API_KEY", "DEFAULT_PASSPHRASE", "DEFAULT_SECRET", "OkxVenue"]
