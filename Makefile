# Two commands do everything: `make lab` and `make test`.
# Each creates .venv when it is missing and reinstalls only when pyproject.toml changes (the one
# list of dependencies; requirements.txt and environment.yml are written from it by `make deps`).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.installed-browser
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-browser test-hub lint format typecheck deps sandbox notebooks bench bytecode clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,test]"
	@touch $(STAMP)

# Playwright for `make test-browser` only, so that `make test` never needs it. It drives the
# system's Chromium (apt-get install chromium): never run `playwright install`.
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab,test,browser]"
	@touch $(BROWSER_STAMP)

# An editable install leaves our own modules uncompiled, and PYTHONDONTWRITEBYTECODE (common in
# containers and CI) stops Python from caching them: compile them here so that every kernel does
# not compile them again (about 0.07 s each). Files already up to date are skipped.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q sinch_helpers.py sinch_helpers_machinery xms_sandbox

lab: bytecode
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: bytecode
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest tests/
	$(BIN)/python -m pytest --doctest-modules sinch_helpers.py sinch_helpers_machinery  # docstrings' examples
	SINCH_SANDBOX_DB=:memory: $(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-kernel-startup-timeout 120 -p no:cacheprovider notebooks/

# Every notebook run in JupyterLab in a real browser, the credentials form filled in by hand.
test-browser: bytecode $(BROWSER_STAMP)
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

# The room sandbox as a JupyterHub service, against a real Hub. JupyterHub gets a virtualenv of
# its own (it is not a dependency of the notebooks) and its proxy comes from npm.
HUB_VENV := .venv-hub
HUB_STAMP := $(HUB_VENV)/.installed
$(HUB_STAMP):
	$(PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --quiet "jupyterhub>=5,<7"
	npm install --silent --no-audit --no-fund --prefix $(HUB_VENV)/proxy configurable-http-proxy@5
	@touch $(HUB_STAMP)

test-hub: bytecode $(HUB_STAMP)
	XMS_TEST_JUPYTERHUB=$(CURDIR)/$(HUB_VENV)/bin/jupyterhub \
	XMS_TEST_CHP=$(CURDIR)/$(HUB_VENV)/proxy/node_modules/.bin/configurable-http-proxy \
		$(BIN)/python -m pytest tests/test_hub.py -p no:cacheprovider -rs

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

# Write requirements.txt and environment.yml from pyproject.toml (tests check they match).
deps:
	$(PYTHON) tools/sync_dependencies.py

# A standalone sandbox on http://127.0.0.1:8765/xms that accepts any plan ID on first use.
sandbox: $(STAMP)
	$(BIN)/python -m xms_sandbox --port 8765 --open

# Re-execute every notebook in sandbox mode and store its outputs (for maintainers).
notebooks: bytecode
	$(BIN)/python tools/execute_notebooks.py

bench: bytecode
	$(BIN)/python bench/sandbox_throughput.py
	$(BIN)/python bench/recipients.py
	$(BIN)/python bench/notebooks.py
	$(BIN)/python bench/room.py

clean:
	rm -rf $(VENV) $(HUB_VENV) .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
