# Postbode: `make run` serves a demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
CATALOGS := $(wildcard service/translations/*/LC_MESSAGES/messages.po)

.PHONY: run test lint format translations catalogs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

catalogs: $(VENV)/.installed
	$(BIN)/pybabel compile -d service/translations

run: $(VENV)/.installed catalogs
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	@$(FLASK) urls
	$(FLASK) serve --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-dev catalogs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Extract the texts of pages and mails and merge them into the catalogs.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o service/translations/messages.pot --no-location .
	$(BIN)/pybabel update -i service/translations/messages.pot -d service/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
