# The two commands of the README: `make run` starts the service, `make test` runs the tests.
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint setup

run:
	@scripts/setup.sh
	.venv/bin/propcheck serve --host $(HOST) --port $(PORT)

test:
	@scripts/setup.sh --test
	$(MAKE) --no-print-directory lint
	.venv/bin/pytest -q -p no:cacheprovider

lint:
	.venv/bin/ruff format --no-cache --check api verifier tests
	.venv/bin/ruff check --no-cache api verifier tests
	.venv/bin/mypy
