# One door for every habit: `make demo`, `make test`, `make lint`, `make synth`, `make deploy`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# jsii prints an end-of-life banner on Node 20; users need not see it on every synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p 'process.versions.node.split(".")[0]')

.PHONY: dev demo test lint bench bench-quick mutation synth deploy clean

# The venv is rebuilt whenever the pinned requirements or the CLI pin change.
$(BIN)/.installed: requirements.txt pyproject.toml package.json
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --no-audit --no-fund --silent
	touch $@

# The HTML report's browser test (tests/browser) drives Debian's Chromium with Playwright, never a
# browser Playwright downloads: a fresh Debian machine (CI, as root) gets it from apt, sudo asks elsewhere.
# Without apt-get, install Chromium yourself and set CHROMIUM to it (outside CI the test skips without one).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	if command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "make: no apt-get to install Chromium: install it and set CHROMIUM=/path/to/chromium"; fi

dev: $(BIN)/.installed $(CHROMIUM)

demo: dev
	$(BIN)/python -m cert_audit demo

# On every core; a module's tests stay together (--dist loadfile), so its fixtures are built once.
test: dev
	$(BIN)/pytest -n auto --dist loadfile

lint: dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The benchmarks of bench/README.md: the full run rewrites bench/RESULTS.md (~15 min).
bench: dev
	PYTHONPATH=lambda:. $(BIN)/python -m bench

bench-quick: dev
	PYTHONPATH=lambda:. $(BIN)/python -m bench --quick

# Mutation testing of the core modules (docs/mutation.md; ~1 h on 2 cores, not part of `make test`).
# mutmut names mutants after file paths and strips only `src/`, so it runs in build/mutation, where
# src/cert_audit is lambda/cert_audit; each run starts afresh, as cached verdicts outlive test changes.
# A subset: make mutation MUTANTS='cert_audit.config*'
# Fewer tests (faster, a lower bound): make mutation MUTATION_TESTS='tests/unit tests/integration/test_faults.py'
# With MUTANTS or MUTATION_TESTS the run gets its own copy of pyproject.toml that mutates only the
# modules MUTANTS names (mutmut otherwise mutates all six before it filters) and runs those tests.
MUTATION := build/mutation
MUTATION_TESTS :=
define MUTATION_PYPROJECT
import fnmatch, re, sys
text = open("pyproject.toml").read()
patterns, tests = sys.argv[1].split(), sys.argv[2].split()
if patterns:
    modules = [".".join(p.split(".")[:2]) for p in patterns]
    text = re.sub(
        r'^    "src/cert_audit/(\w+)\.py",\n',
        lambda m: m[0] if any(fnmatch.fnmatch(f"cert_audit.{m[1]}", p) for p in modules) else "",
        text,
        flags=re.M,
    )
if tests:
    selection = ", ".join(f'"{t}"' for t in tests)
    text = re.sub(r"^pytest_add_cli_args_test_selection = .*$$", f"pytest_add_cli_args_test_selection = [{selection}]", text, flags=re.M)
print(text, end="")
endef
export MUTATION_PYPROJECT
define MUTATION_SCORE
import json, pathlib
from mutmut.stats import status_by_exit_code as status
print("module           killed/total  score")
for meta in sorted(pathlib.Path("mutants/src/cert_audit").glob("*.py.meta")):
    codes = [status[c] for c in json.loads(meta.read_text())["exit_code_by_key"].values()]
    tried = [c for c in codes if c not in ("not checked", "skipped")]
    killed = sum(c in ("killed", "timeout", "segfault") for c in tried)
    if tried:
        print(f"{meta.name[:-8]:16} {killed:>5}/{len(tried):<5}  {killed / len(tried):6.1%}")
endef
export MUTATION_SCORE
mutation: dev
	rm -rf $(MUTATION) && mkdir -p $(MUTATION)/src
	ln -s ../../../lambda/cert_audit $(MUTATION)/src/cert_audit
	ln -s ../../tests $(MUTATION)/tests
# mutmut runs the tests in $(MUTATION)/mutants: what they read from the repository root is linked there.
	mkdir -p $(MUTATION)/mutants && ln -s ../../../docs ../../../requirements.txt $(MUTATION)/mutants/
	$(if $(MUTANTS)$(MUTATION_TESTS),$(BIN)/python -c "$$MUTATION_PYPROJECT" '$(MUTANTS)' '$(MUTATION_TESTS)' \
		> $(MUTATION)/pyproject.toml,ln -s ../../pyproject.toml $(MUTATION)/pyproject.toml)
	cd $(MUTATION) && ../../$(BIN)/mutmut run --max-children 2 $(MUTANTS) > mutmut.log 2>&1 \
		|| { tail -40 mutmut.log; exit 1; }
	cd $(MUTATION) && ../../$(BIN)/mutmut results && ../../$(BIN)/python -c "$$MUTATION_SCORE"

synth: dev
	PATH=$(CURDIR)/$(BIN):$$PATH npx cdk synth

deploy: dev
	PATH=$(CURDIR)/$(BIN):$$PATH npx cdk deploy

clean:
	rm -rf $(VENV) node_modules cdk.out
