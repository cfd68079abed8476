# Two commands set everything up on a fresh machine:
#   make run    the main job: `controlroom local`, training Pong on the CPU in a TUI
#   make stop   stop what `make run` left training: every trainer (checkpointed), then the agent
#   make test   lint (ruff check, ruff format --check), mypy --strict, the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU build of torch lies on this kind of machine's disk; pinning it keeps pip from
# fetching a multi-GB CUDA build. Only the dev/test path pins it; the package asks a range.
TORCH_PIN ?= torch==2.13.0

.PHONY: run stop test lint typecheck unit system-deps setup screenshot bench clean

run: setup
	$(VENV)/bin/controlroom local

# The local agent outlives the TUI by design (training goes on); this ends both.
stop:
	@$(VENV)/bin/controlroom agent shutdown --stop-trainers || echo "make stop: no local agent was running"

test: setup system-deps lint typecheck unit

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	scripts/retry.sh $(PY) -m pip install -q $(TORCH_PIN)
	scripts/retry.sh $(PY) -m pip install -q -e '.[agent,dev]'
	touch $@

# What the tests need from the OS: a real OpenSSH server, cron (the autostart fallback)
# and rsvg-convert (README screenshot). Installed only when missing.
system-deps:
	@scripts/system-deps.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest -q

screenshot: setup
	$(PY) scripts/screenshot.py

bench: setup
	$(PY) bench/trainer_throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
