# keyturn developer entry points. `make demo` and `make test` are the README quickstart.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# mkdocs-material prints a banner about MkDocs 2 on every build; the docs are built strictly.
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint typecheck unit integration test-slow install clean scanners scan package \
	bench chromium tmux test-setup docs docs-check

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

## Lint, type-check, build the docs strictly and run the whole suite under coverage (what CI
## runs). The tools it needs beyond the Python packages come from `test-setup`.
## The suite runs in TEST_WORKERS pytest-xdist workers (one per core of CI's 2), each with its
## own moto server, whole test modules at a time, the long (`slow`) modules first
## (tests/conftest.py); `make test TEST_WORKERS=0` runs it in one process. Coverage follows
## the workers (`patch = ["subprocess"]` in pyproject.toml) and is combined before the report.
TEST_WORKERS ?= 2
test: lint typecheck docs-check test-setup
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

## What the suite needs besides the locked Python packages: the template scanners' virtual
## environments, Debian's headless Chromium (for the report page test) and tmux (for the CLI's
## 80-column terminal test). Explicit, so that `make test` installs nothing behind your back
## that this line does not name.
test-setup: scanners chromium tmux

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## The documentation site (MkDocs Material) into site/; `make test` builds it strictly too.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

docs-check: install
	$(BIN)/mkdocs build --strict --quiet --site-dir $(TOOLS)/site

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

## Headless Chromium (Debian's package) for the report page test, installed when missing. Outside
## CI the test is skipped where apt-get cannot install it (not root, no apt); in CI it fails.
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: chromium could not be installed; the report page test is skipped"; \
	  else echo "warning: cannot install chromium here; the report page test is skipped"; fi; }

## tmux (Debian's package) for the CLI's terminal test, installed when missing. Outside CI the
## test is skipped where apt-get cannot install it (not root, no apt); in CI it fails.
TMUX_BIN := /usr/bin/tmux
tmux:
	@test -x $(TMUX_BIN) || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq tmux >/dev/null) \
	    || echo "warning: tmux could not be installed; the CLI terminal test is skipped"; \
	  else echo "warning: cannot install tmux here; the CLI terminal test is skipped"; fi; }

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache dist build site .coverage

# --- Deployment (infra/): scanners in their own virtual environments, the Lambda artifact ---
CHECKOV := $(TOOLS)/checkov/bin/checkov
PARLIAMENT := $(TOOLS)/parliament/bin/parliament

## The template scanners' environments: checkov pins an old boto3, parliament an old setuptools.
scanners: $(CHECKOV) $(PARLIAMENT)

# A scanner's venv: $(TOOLS)/NAME from infra/scanners/NAME-requirements.txt (every package pinned).
define scanner_venv
	rm -rf $(TOOLS)/$(1)
	$(UV) venv --quiet --python $(PYTHON) $(TOOLS)/$(1)
	$(UV) pip install --quiet --python $(TOOLS)/$(1)/bin/python -r infra/scanners/$(1)-requirements.txt
	touch $@
endef

$(CHECKOV): infra/scanners/checkov-requirements.txt | $(UV)
	$(call scanner_venv,checkov)

$(PARLIAMENT): infra/scanners/parliament-requirements.txt | $(UV)
	$(call scanner_venv,parliament)

## cfn-lint, checkov and parliament on every template (the tests in tests/infra), with output.
scan: install scanners
	$(BIN)/pytest tests/infra/test_deploy_scanners.py -rA

## dist/keyturn-lambda.zip for arm64, without docker; prints its size.
package: | $(UV)
	$(PYTHON) infra/package.py --uv $(UV)
