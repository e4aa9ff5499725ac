# keyturn developer entry points. `make demo` and `make test` are the README quickstart.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint typecheck unit integration test-slow install clean scanners scan package

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
test: lint typecheck scanners
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

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache dist build

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
