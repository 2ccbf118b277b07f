# omnidesk — the two commands of the README:
#   make demo   set up, seed a demo workspace and serve it at http://127.0.0.1:8000/
#   make test   set up and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMNIDESK_DATA_DIR ?= $(CURDIR)/omnidesk-data

.PHONY: demo test install lint check messages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/omnidesk demo
	$(BIN)/omnidesk serve

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint, format, types and the layering contracts (docs/README.md, "Checks"): what .ci/run runs besides the tests.
lint: install
	$(BIN)/ruff check omnidesk tests bench conftest.py
	$(BIN)/ruff format --check omnidesk tests bench conftest.py
	$(BIN)/lint-imports
	$(BIN)/mypy

# Re-extract and compile the translation catalogues (needs GNU gettext: apt-get install gettext).
messages: install
	cd omnidesk && ../$(BIN)/omnidesk makemessages -l zh_Hans -l zh_Hant -l it -l pl --no-obsolete --no-location --no-wrap \
		--ignore 'tests/*' --ignore '*/tests/*' --ignore 'static/*' --ignore '*/static/*' --ignore '*/migrations/*'
	cd omnidesk && ../$(BIN)/omnidesk compilemessages

clean:
	rm -rf $(VENV) build *.egg-info
