# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := tests/node/node_modules/.installed-stamp
# Ports of `make run`: the gateway and portal, and the sandbox vendors beside it
PORT ?= 8080
SANDBOX_PORT ?= 9001
# The suite waits more than it computes (servers starting, CLI subprocesses, timeouts), so
# four workers overlap the waits even on two cores; a file's tests stay on one worker,
# which keeps module-scoped servers started once. PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n 4 --dist loadfile

.PHONY: run test bench bench-throughput lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The Node programs the tests start: an OpenID Provider, axe-core
$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## Serve the gateway with its demo (sandbox vendor, tools, one app, one user per role) on
## http://127.0.0.1:$(PORT); other ports: make run PORT=8081 SANDBOX_PORT=9101
run: $(STAMP)
	GATEHOUSE_DEMO=1 GATEHOUSE_ISSUER="$${GATEHOUSE_ISSUER:-http://127.0.0.1:$(PORT)}" \
		$(BIN)/gatehouse demo --port $(PORT) --sandbox-port $(SANDBOX_PORT)

## Install and run the whole test suite (GATEHOUSE_TEST_DATABASE_URL picks PostgreSQL)
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

## Run the benchmarks (PostgreSQL ones need GATEHOUSE_BENCH_DATABASE_URL)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/side_by_side.py
	$(BIN)/python bench/proxy_overhead.py
	$(BIN)/python bench/decision_vs_rego.py
	$(BIN)/python bench/consent_lookup.py
	$(BIN)/python bench/audit_log.py
	$(BIN)/python bench/verify_range.py
	$(BIN)/python bench/api_key_auth.py
	$(BIN)/python bench/vendor_lookup.py
	$(BIN)/python bench/shadow_it_scan.py
	$(BIN)/python bench/usage_report.py
	$(BIN)/python bench/audit_ratios.py
	$(BIN)/python bench/change_propagation.py

## Gatehouse's throughput and latency next to nginx and a bare pass-through, side by side
## (needs nginx and wrk); keep the figures: make bench-throughput BENCH_ARGS="--record"
bench-throughput: $(STAMP)
	$(BIN)/python bench/side_by_side.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
