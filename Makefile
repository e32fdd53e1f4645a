# One door for every habit: `make demo`, `make test`, `make lint`, `make synth`, `make deploy`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# jsii prints an end-of-life banner on Node 20; users need not see it on every synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p 'process.versions.node.split(".")[0]')

.PHONY: dev demo test lint bench bench-quick synth deploy clean

# The venv is rebuilt whenever the pinned requirements or the CLI pin change.
$(BIN)/.installed: requirements.txt pyproject.toml package.json
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --no-audit --no-fund --silent
	touch $@

dev: $(BIN)/.installed

demo: dev
	$(BIN)/python -m cert_audit demo

test: dev
	$(BIN)/pytest

lint: dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The benchmarks of bench/README.md: the full run rewrites bench/RESULTS.md (~15 min).
bench: dev
	PYTHONPATH=lambda:. $(BIN)/python -m bench

bench-quick: dev
	PYTHONPATH=lambda:. $(BIN)/python -m bench --quick

synth: dev
	PATH=$(CURDIR)/$(BIN):$$PATH npx cdk synth

deploy: dev
	PATH=$(CURDIR)/$(BIN):$$PATH npx cdk deploy

clean:
	rm -rf $(VENV) node_modules cdk.out
