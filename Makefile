# lstmcli: `make demo` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CLI    := $(BIN)/lstmcli
BUILD  := build/demo
CONFIG := configs/sequence.toml
DATA   := data/sequence.csv

export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test test-fast bench quality quality-forecast quality-classify lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The classic example as five processes chained through file targets:
# re-running with nothing changed re-runs nothing and prints the results again.
# LSTMCLI_SERVER=auto: the first step starts this user's warm server and the next ones fork it
# instead of importing TensorFlow again (README: Warm starts); LSTMCLI_SERVER=off runs them cold.
demo: export LSTMCLI_SERVER ?= auto
demo: $(BUILD)/metrics.txt $(BUILD)/predictions.csv
	@echo "== evaluate: loss and metrics"
	@cat $(BUILD)/metrics.txt
	@echo "== predict: each value's successor"
	@cat $(BUILD)/predictions.csv

$(BUILD)/metrics.txt: $(BUILD)/fitted.keras
	$(CLI) evaluate $< --config $(CONFIG) --out $@

$(BUILD)/predictions.csv: $(BUILD)/fitted.keras
	$(CLI) predict $< --config $(CONFIG) --out $@

$(BUILD)/defined.keras: $(CONFIG) $(STAMP)
	$(CLI) define --config $(CONFIG) --out $@

$(BUILD)/compiled.keras: $(BUILD)/defined.keras $(CONFIG)
	$(CLI) compile $< --config $(CONFIG) --out $@

$(BUILD)/fitted.keras: $(BUILD)/compiled.keras $(DATA) $(CONFIG)
	$(CLI) fit $< --config $(CONFIG) --out $@

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Model quality on real public data (slow: minutes; needs the bench extra).
# Results go to bench/results/quality_<kind>_$(QUALITY_LABEL).json; QUALITY_BEFORE=before renders that
# label's file beside it (before/after columns); QUALITY_ARGS passes options, e.g. QUALITY_ARGS='--seeds 7,8,9'.
QUALITY_LABEL ?= current
QUALITY_BEFORE ?=
QUALITY_ARGS ?=
quality: quality-forecast quality-classify

# aeon is installed without its dependencies: only the CSV files it ships are read, and its
# own pins (pandas<3.1, numba) would otherwise move the packages lstmcli runs on.
quality-forecast: $(STAMP)
	$(BIN)/python -m pip install --quiet 'statsmodels>=0.14'
	$(BIN)/python -m pip install --quiet --no-deps 'aeon>=1.0'
	$(BIN)/python bench/quality_forecast.py --label $(QUALITY_LABEL) $(QUALITY_ARGS)
	$(BIN)/python bench/quality_render.py $(if $(QUALITY_BEFORE),bench/results/quality_forecast_$(QUALITY_BEFORE).json) bench/results/quality_forecast_$(QUALITY_LABEL).json

# Classification accuracy on four UCR/UEA sets against 1-NN DTW (reads aeon's .ts files only).
quality-classify: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps 'aeon>=1.0'
	$(BIN)/python bench/quality_classify.py --label $(QUALITY_LABEL) $(QUALITY_ARGS)
	$(BIN)/python bench/quality_render.py $(if $(QUALITY_BEFORE),bench/results/quality_classify_$(QUALITY_BEFORE).json) bench/results/quality_classify_$(QUALITY_LABEL).json

# ruff (pinned in pyproject.toml): the linter, and the formatter's check that nothing is left unformatted.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf build $(VENV) .pytest_cache .hypothesis
