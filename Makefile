# Every target creates the virtualenv it needs; `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench check-sshd clean dist lock

# The product, then the emulator distribution (emulator/) the tests and demo run: in that
# order, as replacing a product install from before the split removes its dokploy-emulator.
$(STAMP): pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e ./emulator
	touch $(STAMP)

check-sshd:
	@command -v sshd >/dev/null 2>&1 || test -x /usr/sbin/sshd || { \
	  echo "OpenSSH's sshd is needed (the emulated workspaces are real sshd processes):"; \
	  echo "  apt-get install -y openssh-server"; exit 1; }

demo: $(STAMP) check-sshd
	$(BIN)/python scripts/demo.py

test: $(STAMP) check-sshd
	$(BIN)/pytest -q

# Unit and tunnel tests in seconds, with no network once the virtualenv exists. Without root,
# tests/tunnel skips: its real sshd runs in a PID namespace and logs sessions in as root.
test-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/tunnel

lint: $(STAMP)
	$(BIN)/ruff check dokploy_provider emulator tests scripts
	$(BIN)/ruff format --check dokploy_provider emulator tests scripts
	$(BIN)/mypy

bench: $(STAMP) check-sshd
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_devpod.py

# Release artifacts (one PEX per OS/arch) and the release provider.yaml, in dist/, installed
# from pex.lock only.
dist: $(STAMP)
	$(BIN)/python scripts/dist.py

# Re-resolve pex.lock from pyproject.toml's dependencies (then commit it).
lock: $(STAMP)
	$(BIN)/python scripts/dist.py --update-lock

clean:
	rm -rf $(VENV) build dist *.egg-info emulator/build emulator/*.egg-info .pytest_cache \
	  .mypy_cache .ruff_cache
