# The two set-up commands of the README. Each bootstraps its own virtual environment.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/tiny-cpu

.PHONY: demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "hatchvl needs Python 3.11, got " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and alone, so that nothing resolves a different (CUDA, multi-GB) build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# DeepSpeed for the ZeRO-3 tests on CPU; built against the torch above (an isolated build would fetch a CUDA torch).
	$(BIN)/python -m pip install --quiet --no-build-isolation deepspeed==0.19.8
	touch $@

demo: $(BIN)/.installed
	bash scripts/demo.sh $(DEMO_DIR)

test: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) runs
