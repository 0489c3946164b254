# gan-cli: `make train` and `make test` install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test test-slow bench lint docs clean

install: $(STAMP)

# torch and torchvision are pinned in constraints.txt (PyPI's torchvision wheels need
# that exact torch build, which also runs without a GPU).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,sweep,docs,tensorboard,mlflow,video]"
	touch $(STAMP)

train: install
	$(BIN)/gan-train $(ARGS)

# one worker per core, a test module's tests on one worker (its trained fixtures are made
# once); the 15 slowest tests are printed, so a slowdown is seen where it is made
test: install
	$(BIN)/python -m pytest -n auto --dist loadscope -m "not slow" --durations=15 $(ARGS)

# the tests marked slow (long runs, repeated variants), which make test leaves out
test-slow: install
	$(BIN)/python -m pytest -n auto --dist loadscope -m slow --durations=15 $(ARGS)

# speed and quality, side by side with the alternatives: bench/results/*.json and tables;
# make bench ARGS=--quick for a short version
bench: install
	$(BIN)/python -m bench $(ARGS)

# the manual, built strictly: a broken link, a missing page or an unknown anchor fails
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: install
	$(BIN)/ruff check gan_cli tests bench docgen
	$(BIN)/ruff format --check gan_cli tests bench docgen

clean:
	rm -rf $(VENV) build dist site *.egg-info
