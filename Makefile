# Two entry points that work on a fresh clone: `make demo` and `make test`.
# Both create or update the project venv (.venv) first; a second run with nothing changed is fast.
VENV ?= .venv
export VENV

.PHONY: setup demo test lint clean
setup:
	@bash scripts/setup_env.sh

demo: setup
	$(VENV)/bin/iknet-ros demo

test: setup
	@bash scripts/setup_test_browser.sh
	$(VENV)/bin/python -m pytest -q test

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build
