# One-command workflows. `make run` installs what is missing and serves the chat on seeds/;
# `make test` runs the test suite; `make bench` regenerates docs/benchmarks.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
INDEX  ?= embeddings
export HF_HUB_OFFLINE := 1

.PHONY: install browser run build test lint bench clean

install: $(VENV)/.installed browser

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: the local CPU wheel, so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,bench,ray]"
	touch $@

# Debian's Chromium for the browser tests (never `playwright install`).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "note: /usr/bin/chromium missing; browser tests will be skipped"; fi; \
	fi

build: $(VENV)/.installed
	$(BIN)/qa build seeds/ --index $(INDEX)

run: $(VENV)/.installed build
	$(BIN)/qa serve --index $(INDEX)

test: install
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check qa tests benchmarks

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(INDEX) .qa-onnx .pytest_cache
