# The two commands of the README:  `make demo`  and  `make test`.
# Both set up (or reuse) the project environment in .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: setup demo test test-fast lint bench bench-quick clean-demo

setup:
	@SAMCRYO_VENV=$(VENV) bash scripts/setup.sh

## demo: simulate labelled + unseen micrographs, train a prompt, pick, export, report
demo: setup
	@bash scripts/run_demo.sh

## test: the whole test suite, slow tests included (what CI runs)
test: setup
	@bash scripts/system_deps.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests

## test-fast: skip tests marked slow (for quick local iterations)
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" tests

## bench: every benchmark (accuracy vs LoG/Topaz, stages, DAG, load); results in benchmarks/results/
bench: setup
	bash benchmarks/run_all.sh

bench-quick: setup
	QUICK=1 bash benchmarks/run_all.sh

lint: setup
	$(BIN)/ruff check .

clean-demo:
	rm -rf demo_data results logs
