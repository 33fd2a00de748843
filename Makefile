# One command sets up and runs the main job; one sets up and runs the tests.
PY ?= $(shell .ci/find-python 3.11 | grep . || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make test` (.ci/test-suite) runs ruff, mypy and the docs, then the suite on 3.11 and on each of OTHER_PYTHONS the
# machine has (each in its own .venv-X.Y, set up in the background while 3.11's suite runs; an interpreter the
# machine lacks is SKIPPED, and said so): the fast tier on every interpreter, the slow tier whole on 3.11 and split
# between the others (each slow test runs on 3.11 and on one newer interpreter). The crash trials run
# PRIMARY_CRASH_TRIALS per kind and broker on 3.11 and OTHER_CRASH_TRIALS on the others, each interpreter with its
# own seed; `make soak` runs hundreds.
OTHER_PYTHONS ?= 3.12 3.13
PRIMARY_CRASH_TRIALS ?= 2
OTHER_CRASH_TRIALS ?= 1
export OTHER_PYTHONS PRIMARY_CRASH_TRIALS OTHER_CRASH_TRIALS
FAST_TIER := -m "not slow and not browser and not notebook"
# pytest runs the fast tier on PYTEST_WORKERS processes (pytest-xdist; CI's machine has 2 cores) and the slow tier,
# which mostly waits on venues and rate limits, on PYTEST_SLOW_WORKERS; tests sharing a module-scoped fixture stay
# on one process (xdist_group, tests/conftest.py). 0 runs in this process, serially.
PYTEST_WORKERS ?= 2
PYTEST_SLOW_WORKERS ?= 4
export PYTEST_WORKERS PYTEST_SLOW_WORKERS
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: setup browser demo test test-fast test-other-pythons docs soak lint bench lock clean

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on this machine) every start would
# otherwise compile pandas, numba and the rest again (seconds per `import execlab`).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv 2>&1 | grep -v "is ignored" || true
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@$(BIN)/python -m compileall -q execlab >/dev/null || true
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/execlab demo

# The dashboard test drives Debian's Chromium (no browser download is possible or wanted).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	.ci/test-suite

# What `make test` runs on the other interpreters only (the fast tier each, the slow tier split between them).
test-other-pythons: setup
	SKIP_PRIMARY=1 .ci/test-suite

# The documentation site (MkDocs + Material + mkdocstrings), warnings as errors; `make docs` serves nothing, it builds.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir .site

# The fast tier (on PYTEST_WORKERS processes): everything but the slow, browser and notebook tests; no ruff or mypy.
test-fast: setup
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(FAST_TIER)

# The long runs: many more SIGKILL crash trials and fuzzed bad inputs than `make test` does (counts by variable).
SOAK_CRASH_TRIALS ?= 200
SOAK_FUZZ_EXAMPLES ?= 2000
SOAK_CRASH_ORDERS ?= 200
soak: setup
	EXECLAB_CRASH_TRIALS=$(SOAK_CRASH_TRIALS) EXECLAB_CRASH_ORDERS=$(SOAK_CRASH_ORDERS) EXECLAB_FUZZ_EXAMPLES=$(SOAK_FUZZ_EXAMPLES) $(BIN)/python -m pytest \
		tests/brokers/conformance/test_conformance_crash.py tests/brokers/test_alpaca_algo_crash.py \
		tests/brokers/test_order_group_crash.py \
		tests/modes/test_trading_path_fuzz.py tests/unit/core/test_order_contract.py

bench: setup
	$(BIN)/python benchmarks/bench_backtest_vs_vectorbt.py

# One universal lock (markers where versions differ) for Python 3.11, 3.12 and 3.13.
lock:
	$(BIN)/uv pip compile requirements.in --universal --python-version 3.11 -o requirements.lock

clean:
	rm -rf .venv .venv-3.* .site data/*.parquet reports
