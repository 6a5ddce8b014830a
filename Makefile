# The two set-up commands of the README. Each bootstraps its own virtual environment.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/tiny-cpu

.PHONY: demo test browser lint clean

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

# The viewer's browser test drives Debian's chromium through its chromedriver: installed here where apt-get can
# (as root); elsewhere the test skips and says why. This never fails the target.
BROWSER_PACKAGES := chromium chromium-driver

browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(BROWSER_PACKAGES) for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null) \
	    || echo "could not install $(BROWSER_PACKAGES): the browser test will skip"; \
	else echo "no chromium, and no apt-get as root to install it: the browser test will skip"; fi

test: $(BIN)/.installed browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) runs
