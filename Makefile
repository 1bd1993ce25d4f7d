# The two commands the README gives: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-store test lint bench bench-instances bench-bake bench-lifecycle bench-audit bench-console clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/ami_workflow.py

demo-store: $(STAMP)
	$(BIN)/python examples/store_demo.py

test: $(STAMP) lint
	$(BIN)/pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/store.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/instances.py --debian --packer
	$(BIN)/python bench/bake.py
	$(BIN)/python bench/lifecycle.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/console.py

bench-instances: $(STAMP)
	$(BIN)/python bench/instances.py --debian --packer

bench-bake: $(STAMP)
	$(BIN)/python bench/bake.py

bench-lifecycle: $(STAMP)
	$(BIN)/python bench/lifecycle.py

bench-audit: $(STAMP)
	$(BIN)/python bench/audit.py

bench-console: $(STAMP)
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/results
