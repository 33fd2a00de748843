"""One harness per broker for the conformance suite (tests/brokers/conformance): how to start its local venue, make
its real adapter over the unmodified SDK, and configure ``execlab rebalance`` for it."""
