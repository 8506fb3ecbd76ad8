# The project's commands. `make demo` runs the pipeline locally; `make test`
# is what CI runs. Both install what they need on a fresh machine: the Python
# tools go into project-local virtualenvs (.venv, .venv-checkov,
# .venv-ministack, .venv-query), pinned by tools/*.txt; nothing is installed
# globally.

SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
VENV_CHECKOV := $(CURDIR)/.venv-checkov
VENV_MINISTACK := $(CURDIR)/.venv-ministack
VENV_QUERY := $(CURDIR)/.venv-query
TOOLS := $(VENV)/.installed
TOOLS_CHECKOV := $(VENV_CHECKOV)/.installed
TOOLS_MINISTACK := $(VENV_MINISTACK)/.installed
TOOLS_QUERY := $(VENV_QUERY)/.installed
# DuckDB and sqlfluff: the local query engine and the SQL checks.
LAKE_SQL := $(VENV_QUERY)/bin/python tools/lake_sql.py
# cargo-lambda, sam, cfn-lint and moto_server are found in the virtualenv.
export PATH := $(VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
ENV ?= staging

.PHONY: help demo setup test lint unit template-check sql-check query deploy-local build deploy arm64-target bench measure watch invoke-transformer invoke-producer freeze-tools

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

demo: setup ## Run the whole pipeline locally on the AWS emulator and print what landed where
	cargo build --locked -p producer -p transformer -p xtask --bin producer --bin transformer --bin demo
	./target/debug/demo
	@echo; echo "The stack's named queries (template.yaml), run by DuckDB over out/ (tools/lake_sql.py):"
	@$(LAKE_SQL) named

setup: $(TOOLS) $(TOOLS_CHECKOV) $(TOOLS_MINISTACK) $(TOOLS_QUERY) ## Install the pinned Python tools into the project virtualenvs

$(TOOLS): tools/requirements.txt tools/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt -c tools/constraints.txt
	touch $@

$(TOOLS_CHECKOV): tools/requirements-checkov.txt tools/constraints-checkov.txt
	$(PYTHON) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-checkov.txt -c tools/constraints-checkov.txt
	touch $@

$(TOOLS_MINISTACK): tools/requirements-ministack.txt tools/constraints-ministack.txt
	$(PYTHON) -m venv $(VENV_MINISTACK)
	$(VENV_MINISTACK)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-ministack.txt -c tools/constraints-ministack.txt
	touch $@

$(TOOLS_QUERY): tools/requirements-query.txt tools/constraints-query.txt
	$(PYTHON) -m venv $(VENV_QUERY)
	$(VENV_QUERY)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-query.txt -c tools/constraints-query.txt
	touch $@

freeze-tools: ## Re-pin the tools' transitive dependencies after changing tools/requirements*.txt
	rm -rf $(VENV) $(VENV_CHECKOV)
	$(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet -r tools/requirements.txt
	$(VENV)/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)==' > tools/constraints.txt
	$(PYTHON) -m venv $(VENV_CHECKOV) && $(VENV_CHECKOV)/bin/pip install --quiet -r tools/requirements-checkov.txt
	$(VENV_CHECKOV)/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)==' > tools/constraints-checkov.txt
	rm -rf $(VENV_MINISTACK)
	$(PYTHON) -m venv $(VENV_MINISTACK) && $(VENV_MINISTACK)/bin/pip install --quiet -r tools/requirements-ministack.txt
	$(VENV_MINISTACK)/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)==' > tools/constraints-ministack.txt
	rm -rf $(VENV_QUERY)
	$(PYTHON) -m venv $(VENV_QUERY) && $(VENV_QUERY)/bin/pip install --quiet -r tools/requirements-query.txt
	$(VENV_QUERY)/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)==' > tools/constraints-query.txt
	touch $(TOOLS) $(TOOLS_CHECKOV) $(TOOLS_MINISTACK) $(TOOLS_QUERY)

test: setup lint template-check sql-check deploy-local unit ## Everything CI checks: formatting, lints, template checks, the emulator deployment, unit and integration tests

lint: ## rustfmt and clippy (warnings are errors)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit: ## cargo test for the whole workspace, the emulator tests included (plain `cargo test` lists them as ignored)
	cargo test --workspace --locked -- --include-ignored

template-check: setup ## Offline checks of template.yaml, options off (defaults) and on: sam validate --lint, cfn-lint, checkov
	$(VENV)/bin/python tools/template_variants.py target/template-variants
	for t in template.yaml target/template-variants/template-options-on.json; do \
		echo "== $$t"; \
		sam validate --lint --template-file $$t && cfn-lint $$t && \
		$(VENV_CHECKOV)/bin/checkov --file $$t --framework cloudformation --quiet --compact --skip-download || exit 1; \
	done

sql-check: setup ## Every SQL file and named query parses in its dialect (sqlfluff), and every consumer's columns match schema/output-v1.schema.json
	$(VENV_QUERY)/bin/python tools/check_sql.py

query: setup ## Run SQL="..." over the last demo's lake (out/) in DuckDB, as Athena would over the stack's table
	@if [ -z "$(SQL)" ]; then echo 'usage: make query SQL="SELECT count(*) FROM chat_events_deduplicated"'; exit 2; fi
	@$(LAKE_SQL) query "$(SQL)"

deploy-local: setup ## Deploy template.yaml (both source types) into the MiniStack emulator and check what it created
	$(VENV)/bin/python tools/deploy_local.py --ministack $(VENV_MINISTACK)/bin/ministack

arm64-target:
	rustup target add aarch64-unknown-linux-gnu

build: setup arm64-target ## sam build: arm64 bootstrap artifacts for both functions via cargo-lambda (Zig from PyPI)
	sam build

deploy: build ## sam deploy for ENV (staging|production); guided the first time
	@if [ -f .aws-sam/deployed-$(ENV) ]; then \
		sam deploy --config-env $(ENV); \
	else \
		sam deploy --guided --config-env $(ENV) && touch .aws-sam/deployed-$(ENV); \
	fi

bench: ## Criterion benchmarks (see README for the figures)
	cargo bench -p transformer
	cargo bench -p producer

measure: ## Cold start, peak memory and warm end-to-end time of the release binaries, through the local Runtime API stand-in
	# The functions alone first, so their binaries are built without the
	# test-util feature the tools crate turns on.
	cargo build --release --locked -p transformer -p producer
	cargo build --release --locked -p xtask
	./target/release/lambda-probe --binary target/release/transformer --synthetic-transformer-bytes 6000000 --env REINGEST=false
	./target/release/lambda-probe --binary target/release/producer --event events/producer/scheduled-rule.json
	./target/release/lambda-probe --binary target/release/transformer --synthetic-direct-put-bytes 2000000 --repeat 50 --starts 0 --env REINGEST=false

watch: setup ## Serve both functions locally on the Lambda Invoke API (cargo lambda watch, port 9000)
	cargo lambda watch

invoke-transformer: setup ## Invoke the transformer under `make watch` with EVENT (default: events/transformer/direct-put.json)
	cargo lambda invoke transformer --data-file $(or $(EVENT),events/transformer/direct-put.json)

invoke-producer: setup ## Invoke the producer under `make watch` with EVENT (default: events/producer/scheduled-rule.json)
	cargo lambda invoke producer --data-file $(or $(EVENT),events/producer/scheduled-rule.json)
