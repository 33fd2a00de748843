# One command sets up and runs the main job; one sets up and runs the tests.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser demo test test-fast soak lint bench lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv 2>&1 | grep -v "is ignored" || true
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/execlab demo

# The dashboard test drives Debian's Chromium (no browser download is possible or wanted).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(BIN)/ruff check execlab tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The fast tier (under two minutes): everything but the slow, browser and notebook tests; no ruff or mypy.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser and not notebook"

# The long runs: many more SIGKILL crash trials and fuzzed bad inputs than `make test` does (counts by variable).
SOAK_CRASH_TRIALS ?= 200
SOAK_FUZZ_EXAMPLES ?= 2000
soak: setup
	EXECLAB_CRASH_TRIALS=$(SOAK_CRASH_TRIALS) EXECLAB_FUZZ_EXAMPLES=$(SOAK_FUZZ_EXAMPLES) $(BIN)/python -m pytest \
		tests/brokers/conformance/test_conformance_crash.py tests/modes/test_trading_path_fuzz.py

bench: setup
	$(BIN)/python benchmarks/bench_backtest_vs_vectorbt.py

lock:
	$(BIN)/uv pip compile requirements.in --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) data/*.parquet reports
