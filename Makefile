# keyturn developer entry points. `make demo` and `make test` are the README quickstart.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint typecheck unit integration test-slow install clean bench chromium

install: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.9

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $@

## Run a full rotation story on the embedded AWS emulator (no AWS account needed).
demo: install
	$(BIN)/keyturn demo

## Lint, type-check and run the whole test suite (what CI runs).
test: lint typecheck chromium
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

## Long modes: large fuzz counts and long simulations.
test-slow: install
	KEYTURN_SLOW=1 $(BIN)/pytest -m slow

## Benchmarks against the embedded moto server; prints a markdown table (not part of `test`).
## `make bench BENCH_ARGS=--write` also saves it to benchmarks/RESULTS.md.
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

## Headless Chromium (Debian's package) for the report page test. Installed when missing; the
## test is skipped only where apt-get cannot install it (not root, no apt).
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: chromium could not be installed; the report page test is skipped"; \
	  else echo "warning: cannot install chromium here; the report page test is skipped"; fi; }

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache dist build
