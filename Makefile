# nudgeflow — every target sets itself up on a fresh machine (venv, packages, Kafka jars).
#   make demo   the main job end to end: broker, topics, workers, trainer, simulated users
#   make test   the whole check: lint, layers, types, unit + integration tests (real Kafka)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
JARS   := deploy/kafka/libs/.fetched
PYTEST_ARGS ?=
BENCH_ONLY ?= step,outcomes,edge,logs,kafka

.PHONY: setup demo test check lint fmt unit integration bench bench-learning soak clean prometheus

setup: $(STAMP) $(JARS) prometheus

$(STAMP): pyproject.toml
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); test "$$free" -ge 8 || { \
	  echo "make: only $$free GiB free on the disk of $$(pwd); the venv (torch with its CUDA wheels) needs about 7 GiB" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,train]'
	rm -f $(VENV)/.installed-* && touch $@

$(JARS): streams/runtime/broker_files/pom.xml | $(STAMP)
	$(BIN)/python -c "from streams.runtime.broker import ensure_jars; print('kafka jars in', ensure_jars())"
	touch $@

# Debian's prometheus package brings prometheus and promtool (used by the tests).
prometheus:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus package (needs root and apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  service prometheus stop >/dev/null 2>&1 || true; }

demo: setup
	$(BIN)/nudge demo

check: $(STAMP)
	$(BIN)/ruff check state model streams tests bench
	$(BIN)/ruff format --check state model streams tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# The soak (tests/integration/test_soak.py: 5 minutes of steady traffic at 300 requests/s,
# ~5 % of a core) runs beside the rest of the suite, with its own broker and temp folder,
# so it adds no wall time; its output is printed after the suite's and both must pass.
SOAK_DIR := .nudge/soak
test: setup check
	@mkdir -p $(SOAK_DIR); \
	$(BIN)/pytest -q -s -p no:cacheprovider --basetemp=$(SOAK_DIR)/tmp \
	  tests/integration/test_soak.py >$(SOAK_DIR)/pytest.log 2>&1 & soak=$$!; \
	trap 'kill $$soak 2>/dev/null' INT TERM; \
	$(BIN)/pytest -q --ignore=tests/integration/test_soak.py $(PYTEST_ARGS); suite=$$?; \
	echo "--- the soak, run beside the suite (tests/integration/test_soak.py) ---"; \
	wait $$soak; soaked=$$?; cat $(SOAK_DIR)/pytest.log; \
	test $$suite -eq 0 && test $$soaked -eq 0

unit: $(STAMP)
	$(BIN)/pytest -q -m "not integration" $(PYTEST_ARGS)

integration: setup
	$(BIN)/pytest -q -m integration $(PYTEST_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format state model streams tests bench
	$(BIN)/ruff check --fix state model streams tests bench

bench: setup
	$(BIN)/python -m bench --only $(BENCH_ONLY) $(BENCH_ARGS)

# Learning quality against VW and mabwiser (installs the bench extra first); LEARNING_ARGS=--quick
bench-learning: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench learning $(LEARNING_ARGS)

# Worker memory under 10 minutes of steady traffic (make test runs a 5-minute version)
soak: setup
	$(BIN)/pytest -q -s tests/integration/test_soak.py --soak-seconds 600 --soak-warmup-seconds 120

clean:
	rm -rf .nudge .pytest_cache .mypy_cache .ruff_cache
