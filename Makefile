# The project's commands; `make help` lists them. `make demo` runs the
# pipeline locally, `make test` is everything CI runs, `make check` the fast
# loop. The Python tools are one package, tools/chat_tools, a subpackage per
# job, run as `python -m chat_tools.<job>` with tools/ on PYTHONPATH; they
# live in project-local virtualenvs, one per job (.venv-tools, .venv-checkov,
# .venv-ministack, .venv-query, .venv-warehouse), each pinned by its group in
# tools/pyproject.toml and locked by tools/requirements/<job>.lock; nothing
# is installed globally.

SHELL := /bin/bash
PYTHON ?= python3
VENVS := tools checkov ministack query warehouse
INSTALLED := $(VENVS:%=.venv-%/.installed)
# Each target installs only the virtualenvs it uses (a first `make demo`
# needs neither checkov nor MiniStack).
TOOLS := .venv-tools/.installed
QUERY := .venv-query/.installed
WAREHOUSE := .venv-warehouse/.installed
# cargo-lambda, sam, cfn-lint and moto_server are found in .venv-tools.
export PATH := $(CURDIR)/.venv-tools/bin:$(PATH)
# The tools' package, for every Python the recipes run (and the Rust
# harness, which sets the same for the Pythons it starts).
export PYTHONPATH := $(CURDIR)/tools
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
ENV ?= staging
# The local lake `make demo` writes and `make query`/`make curate` read.
LAKE ?= out
# Quoted wherever a recipe passes it: a path may hold spaces.
LAKE_SQL := .venv-query/bin/python -m chat_tools.lake --lake "$(LAKE)"
TOOLS_PY := .venv-tools/bin/python
# Where cargo puts the binaries the recipes run (CARGO_TARGET_DIR when set).
BIN := $(or $(CARGO_TARGET_DIR),target)
# The demo's size: schedule ticks, and events per tick (2 to 100000).
TICKS ?= 3
EVENTS ?= 500
# A yes/no variable (KEEP, FAULTS, JSON, MAINTENANCE, ALL, FORCE) is on for
# 1, yes or true, and off for anything else: KEEP=0 is off.
on = $(filter 1 yes true,$(1))
# A numeric variable checked before anything runs, its error naming the
# make variable (not the flag of the program it is passed to):
# $(call whole_number,NAME,min,max).
whole_number = v='$($(1))'; case "$$v" in ''|*[!0-9]*) ok=;; *) ok=1;; esac; \
	if [ -z "$$ok" ] || [ "$$v" -lt $(2) ] || [ "$$v" -gt $(3) ]; then \
	echo "make: $(1)=$$v: expected a whole number from $(2) to $(3)" >&2; exit 2; fi

.PHONY: venv-build test-rust-lane test-tools-lane help demo demo-transcript generate migration samples setup test check lint unit tools-test template-check sql-check deploy-local \
	query describe curate far-apart-lake reconcile replay faults-test warehouse-test cost load curation-bench build deploy arm64-target bench measure watch \
	invoke-transformer invoke-producer clean distclean freeze-tools

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

demo: $(TOOLS) $(QUERY) ## The whole pipeline on this machine, every event accounted for, then its curated table and the stack's queries (defaults TICKS=3 EVENTS=500 LAKE=out; add KEEP=1 to add to LAKE instead of replacing it, FAULTS=1 to inject faults)
	@$(call whole_number,TICKS,1,1440)
	@$(call whole_number,EVENTS,2,100000)
	cargo build --locked -p producer -p transformer -p harness --bin producer --bin transformer --bin demo --bin replay
	$(BIN)/debug/demo --ticks $(TICKS) --events $(EVENTS) --lake "$(LAKE)" $(if $(call on,$(KEEP)),--keep) $(if $(call on,$(FAULTS)),--faults)
	@$(if $(call on,$(FAULTS)),$(CURATE_FAILING))
	@$(LAKE_SQL) $(DEMO_START) curate --maintenance
	@$(LAKE_SQL) reconcile
	@echo; echo "The stack's named queries (template.yaml), run by DuckDB over $(LAKE)/ (make query):"
	@$(LAKE_SQL) named

# The demo's lake is a stack deployed today: LakeStartDate is the deploy day
# (template.yaml), so its first curation run reads from today, not from the
# parameter's default (a backlog of months of empty days: `make curate` on a
# lake without a watermark shows how a backlog is curated, run by run).
DEMO_START = --param LakeStartDate=$(shell date -u +%F)

# FAULTS=1: a curation run that fails after its insert committed (exit 3 is
# the injected failure); the next run reads the same window and inserts
# nothing twice.
CURATE_FAILING = echo; echo "Fault injected (curation): the run fails after its INSERT committed, before the watermark moves"; \
	$(LAKE_SQL) $(DEMO_START) curate --maintenance --fail-at after-insert; rc=$$?; \
	if [ $$rc -ne 3 ]; then echo "expected the injected failure (exit 3), got exit $$rc" >&2; exit 1; fi; \
	echo "The next run reads the same window again:"

# schema/output-v1.schema.json is the event model's one source: this writes
# every copy of it (chat_tools.codegen: the Rust model, template.yaml's
# generated regions, the warehouse recipes, the docs' tables), with the
# machine's python3 (standard library only; the Rust goes through rustfmt).
# `make check` fails on a copy it would change.
generate: ## Derive every copy of the event model from schema/output-v1.schema.json (make check fails on a stale one)
	$(PYTHON) -m chat_tools.codegen

# What a deployed stack needs after the schema gained columns or event types:
# the statements for Athena, Redshift and Snowflake (docs/schema-changes.md).
migration: ## The migration of a deployed stack to the schema now, from the schema at FROM=<git revision>
	@if [ -z "$(FROM)" ]; then echo 'usage: make migration FROM=<the git revision the stack was deployed from>' >&2; exit 2; fi
	@$(PYTHON) -m chat_tools.codegen.migrate --from "$(FROM)"

# The golden samples are edited as readable JSON (events/transformer/readable/,
# chat_tools.samples): this writes their Firehose requests and regenerates
# each one's expected answer from the transformer.
samples: ## Write the sample requests from events/transformer/readable/ and regenerate their *.expected.json
	$(PYTHON) -m chat_tools.codegen
	UPDATE_EXPECTED=1 cargo test --locked -p transformer --test integration sample_events::

demo-transcript: ## Run make demo and keep its whole output in docs/demo-output.txt (the README quotes it)
	$(MAKE) --no-print-directory demo 2>&1 | tee docs/demo-output.txt

setup: $(INSTALLED) ## Install the pinned Python tools into the project virtualenvs

# One rule for every virtualenv: .venv-<job> from its group of pins in
# tools/pyproject.toml (read by chat_tools.pins, standard library only),
# every transitive version locked by tools/requirements/<job>.lock. Under a
# lock (flock on that file), checked again once held: `make test`'s two
# lanes may both ask for one, and only the first installs it.
PINS = $(PYTHON) -m chat_tools.pins
FRESH = [ -f .venv-$*/.installed ] && [ .venv-$*/.installed -nt tools/pyproject.toml ] && [ .venv-$*/.installed -nt tools/requirements/$*.lock ]
.venv-%/.installed: tools/pyproject.toml tools/requirements/%.lock
	@flock tools/requirements/$*.lock sh -c '$(FRESH) || $(MAKE) --no-print-directory VENV=$* venv-build'

venv-build:
	@echo "Installing .venv-$(VENV) (once; a minute or less; locked by tools/requirements/$(VENV).lock): $$($(PINS) $(VENV) | tr '\n' ' ')"
	rm -rf .venv-$(VENV)
	$(PYTHON) -m venv .venv-$(VENV)
	$(PINS) $(VENV) > .venv-$(VENV)/pins.txt
	.venv-$(VENV)/bin/pip install --quiet --disable-pip-version-check -r .venv-$(VENV)/pins.txt -c tools/requirements/$(VENV).lock
	touch .venv-$(VENV)/.installed

freeze-tools: ## Re-lock every virtualenv's transitive versions after changing a pin in tools/pyproject.toml
	for v in $(VENVS); do \
		rm -rf .venv-$$v && $(PYTHON) -m venv .venv-$$v && $(PINS) $$v > .venv-$$v/pins.txt && \
		.venv-$$v/bin/pip install --quiet --disable-pip-version-check -r .venv-$$v/pins.txt && \
		.venv-$$v/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)==' > tools/requirements/$$v.lock && \
		touch .venv-$$v/.installed || exit 1; \
	done

# Two lanes side by side on the machine's cores: the Rust lane (lints, then
# the faults round trip, whose debug build the integration tests' own builds
# reuse, then every Rust test) keeps both cores busy while it compiles, and
# the tools' lane (template, SQL and warehouse checks, the emulator
# deployment, the Python tools' tests) is single-threaded Python, which
# fills the compiler's single-core stretches (linking, the largest crates).
# Every line says its lane ("rust  |", "tools |") and comes as it is
# written; the first failure stops its lane and fails `make test`. Each lane
# runs its steps in a make of its own, outside this one's jobserver: cargo
# would otherwise take its job slots from it and compile on one core while
# the other lane runs.
LANE = set -o pipefail; { $(1); } 2>&1 | sed -u 's/^/$(2) | /'
# (make -n still only prints: the flag is passed on by hand.)
DRY = $(if $(findstring n,$(firstword -$(MAKEFLAGS))),-n)
STEP = MAKEFLAGS= $(MAKE) $(DRY) --no-print-directory
test: ## Everything CI checks: the schema's copies, formatting, lints, template and SQL checks, the tools' tests, the emulator deployment, the faults round trip, unit and integration tests
	@$(MAKE) --no-print-directory -j2 test-tools-lane test-rust-lane
	@echo "make test: both lanes passed"

test-rust-lane:
	+@$(call LANE,$(STEP) lint && $(STEP) faults-test && $(STEP) unit,rust )

test-tools-lane:
	+@$(call LANE,$(STEP) setup && $(STEP) template-check && $(STEP) sql-check && $(STEP) warehouse-test && $(STEP) deploy-local && $(STEP) tools-test,tools)

check: ## The fast loop: every copy of the schema current, rustfmt, clippy and the Rust tests that need no Python tool (no emulator)
	$(PYTHON) -m chat_tools.codegen --check
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy --workspace --lib --bins --locked -- -D warnings
	cargo test --workspace --locked

# Clippy twice: every target (tests and benches, with their test-util
# features), then the libraries and binaries alone, built as the functions
# are (no test-util): there an item made public only for tests is an
# unreachable pub, which the first pass cannot see. Then rustdoc, so that a
# doc link to an item since renamed, moved or made private fails (about a
# minute).
lint: ## Every copy of the schema current, rustfmt, clippy and rustdoc's link checks (warnings are errors)
	$(PYTHON) -m chat_tools.codegen --check
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy --workspace --lib --bins --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

unit: $(TOOLS) $(QUERY) ## cargo test for the whole workspace, the emulator tests included (plain `cargo test` lists them as ignored)
	cargo test --workspace --locked -- --include-ignored

# The warehouses' recipes executed over one lake (retry copies, copies
# across midnight, reused event ids) and held to what the stack answers
# over it: the curated table, row for row, and the named queries; and over
# the transformer's golden samples, held to its answers. LAKE=dir on the
# command line (after make demo: LAKE=out) takes that lake instead of the
# synthetic one, plus 50 retry copies and two reused ids.
warehouse-test: $(QUERY) $(WAREHOUSE) ## Execute the warehouse recipes (Snowflake's on fakesnow, Redshift's on DuckDB) over a lake with copies and reused ids (LAKE=out: the demo's) and the transformer's samples; their answers must equal the lake's
	.venv-query/bin/python -m chat_tools.warehouse.inputs --out $(BIN)/warehouse $(if $(filter command line,$(origin LAKE)),--lake "$(LAKE)")
	.venv-query/bin/python -W ignore::UserWarning -m chat_tools.warehouse.redshift --inputs $(BIN)/warehouse
	.venv-warehouse/bin/python -W ignore::UserWarning -m chat_tools.warehouse.snowflake --inputs $(BIN)/warehouse

tools-test: $(QUERY) ## The Python tools' own tests: the dialect table, make query, the curated table's exactness and cost
	cd tools && ../.venv-query/bin/python -m unittest discover --start-directory tests --top-level-directory . --pattern "test_*.py" -v

# asl-validator (npm, pinned by tools/npm/package-lock.json) checks the
# workflow's definition on its own, as CreateStateMachine would: the linters
# below do not follow a DefinitionUri. Then the template, with its optional
# resources off (the defaults) and on (chat_tools.checks.template_variants:
# the linters read parameter defaults only).
ASL_VALIDATOR := tools/npm/node_modules/.installed
$(ASL_VALIDATOR): tools/npm/package.json tools/npm/package-lock.json
	@echo "Installing asl-validator into tools/npm/node_modules (once; seconds; locked by tools/npm/package-lock.json)"
	cd tools/npm && npm ci --no-audit --no-fund --loglevel=error
	touch $@

template-check: $(TOOLS) .venv-checkov/.installed $(ASL_VALIDATOR) ## Offline checks of statemachine/ (asl-validator) and template.yaml, options off (defaults) and on: sam validate --lint, cfn-lint, checkov
	tools/npm/node_modules/.bin/asl-validator --yaml-path statemachine/curation.asl.yaml
	.venv-tools/bin/python -m chat_tools.checks.template_variants target/template-variants
	for t in template.yaml target/template-variants/template-options-on.json; do \
		echo "== $$t"; \
		sam validate --lint --template-file $$t && cfn-lint $$t && \
		.venv-checkov/bin/checkov --file $$t --framework cloudformation --quiet --compact --skip-download || exit 1; \
	done

sql-check: $(QUERY) ## Every SQL file and named query parses in its dialect (sqlfluff), and every consumer's columns match schema/output-v1.schema.json
	.venv-query/bin/python -m chat_tools.checks.sql

deploy-local: $(TOOLS) .venv-ministack/.installed ## Deploy template.yaml (both source types) into the MiniStack emulator and check what it created
	.venv-tools/bin/python -m chat_tools.stack --ministack .venv-ministack/bin/ministack

# The SQL reaches the tool through the environment, untouched: $(value SQL)
# is the text as given, which make does not expand, and the shell never sees it.
query: export LAKE_SQL_QUERY = $(value SQL)
query: $(QUERY) ## Run SQL="..." (or FILE=path.sql, or FILE=- for standard input) over LAKE (default out/) as Athena would; JSON=1 prints JSON
	@if [ -n "$$LAKE_SQL_QUERY" ] && [ -n "$(FILE)" ]; then echo 'make query: give SQL="..." or FILE=..., not both' >&2; exit 2; fi
	@if [ -z "$$LAKE_SQL_QUERY" ] && [ -z "$(FILE)" ]; then \
		echo 'usage: make query SQL="SELECT count(*) FROM chat_events_curated"   (or FILE=my.sql, or FILE=- to read standard input)' >&2; exit 2; fi
	@$(LAKE_SQL) query $(if $(FILE),--file "$(FILE)",--sql-env LAKE_SQL_QUERY) $(if $(call on,$(JSON)),--json)

describe: $(QUERY) ## The columns of TABLE (default chat_events_curated; also chat_events, chat_events_recent) in LAKE
	@$(LAKE_SQL) describe $(or $(TABLE),chat_events_curated) $(if $(call on,$(JSON)),--json)

curate: $(QUERY) ## Run the stack's curation state machine over LAKE (default out/); MAINTENANCE=1 for the daily run; SINCE=yyyy-mm-dd re-curates from that arrival day
	@$(LAKE_SQL) curate $(if $(call on,$(MAINTENANCE)),--maintenance) $(if $(SINCE),--since "$(SINCE)")

RANGES ?= 1000
far-apart-lake: $(QUERY) ## Write into LAKE events in RANGES (default 1000) distinct 100-day blocks of event time, most in the future, all arriving today: then make curate, and MAINTENANCE=1
	@$(call whole_number,RANGES,1,100000)
	.venv-query/bin/python -m chat_tools.lake.synthetic_lake far-apart "$(LAKE)" --ranges $(RANGES)

reconcile: $(QUERY) ## Check the curated table holds every event of the last demo's ledger once (ALL=1: none may still wait under errors/)
	@$(LAKE_SQL) reconcile $(if $(call on,$(ALL)),--require-curated)

replay: $(TOOLS) ## Re-send LAKE's failed records (errors/processing-failed/, partitioning-failed/) through the local pipeline, once (FORCE=1: again); then make curate
	cargo build --locked -p harness --bin replay
	$(BIN)/debug/replay --lake "$(LAKE)" $(if $(call on,$(FORCE)),--force)

# The issue-23 round trip on a lake of its own: faults at every hop, the
# failed batch replayed, curated, and every produced event then in the
# curated table exactly once.
FAULTS_LAKE := target/faults-lake
faults-test: $(TOOLS) $(QUERY) ## make demo FAULTS=1, make replay, make curate, then every produced event is curated exactly once
	$(MAKE) --no-print-directory demo FAULTS=1 LAKE="$(FAULTS_LAKE)" TICKS=3 EVENTS=500
	@# (A line naming $(MAKE) runs under make -n too: the log's folder first.)
	mkdir -p target; set -o pipefail; $(MAKE) --no-print-directory replay LAKE="$(FAULTS_LAKE)" | tee target/faults-replay.log
	@if grep -q '"_aws"' target/faults-replay.log; then echo "faults-test: a metric line (EMF) in the replay's report" >&2; exit 1; fi
	@mkdir -p target; set -o pipefail; $(MAKE) --no-print-directory replay LAKE="$(FAULTS_LAKE)" | tee target/faults-replay-again.log
	@grep -q "left out: an earlier replay sent them" target/faults-replay-again.log || \
		{ echo "faults-test: a second replay did not leave out what the first sent" >&2; exit 1; }
	$(MAKE) --no-print-directory curate LAKE="$(FAULTS_LAKE)"
	$(MAKE) --no-print-directory reconcile LAKE="$(FAULTS_LAKE)" ALL=1

# A sustained rate through the local pipeline: the producer's packing and
# delivery, the Firehose stand-in and the transformer (in process, release
# build: a debug build spends its time in the transformer's own checks),
# then the curation and the curated table's reconciliation.
RATE ?= 2000
SECONDS ?= 60
load: $(TOOLS) $(QUERY) ## RATE events/s (default 2000) for SECONDS (60) through the local pipeline into LAKE, curated: achieved rate, latency percentiles, every event once
	@$(call whole_number,RATE,2,1000000)
	@$(call whole_number,SECONDS,1,3600)
	cargo build --locked --release -p harness --bin load
	$(BIN)/release/load --rate $(RATE) --seconds $(SECONDS) --lake "$(LAKE)"
	@$(LAKE_SQL) --param LakeStartDate=$$(date -u +%F) curate --maintenance
	@$(LAKE_SQL) reconcile

cost: $(QUERY) ## The monthly bill at the schedule's rate, 1,000 and 100,000 events/s, packed and one event a record, priced from LAKE's run (default out/; JSON=1 prints rows)
	@.venv-query/bin/python -m chat_tools.cost --lake "$(LAKE)" $(if $(call on,$(JSON)),--json)

curation-bench: $(QUERY) ## Exactness and cost of the curated table on synthetic lakes of 60 and 120 arrival days (about an hour)
	@echo "Writing and curating two synthetic lakes day by day (60 and 120 arrival days, 500 events a day): about an hour on 2 cores (measured: docs/performance-history.md)"
	.venv-query/bin/python -m chat_tools.curation.bench --days 60 120 --events-per-day 500

arm64-target:
	rustup target add aarch64-unknown-linux-gnu

build: $(TOOLS) arm64-target ## sam build: arm64 bootstrap artifacts for both functions via cargo-lambda (Zig from PyPI)
	@echo "sam build: a cold arm64 release build of both functions (two cargo-lambda builds side by side) takes minutes (measured: docs/performance-history.md)"
	sam build

deploy: $(TOOLS) ## sam deploy for ENV (staging|production); guided the first time; checks credentials and region before the build
	@$(TOOLS_PY) -m chat_tools.stack.preflight --env $(ENV)
	@$(MAKE) --no-print-directory build
	@if [ -f .aws-sam/deployed-$(ENV) ]; then \
		sam deploy --config-env $(ENV); \
	else \
		sam deploy --guided --config-env $(ENV) && touch .aws-sam/deployed-$(ENV); \
	fi

bench: ## Criterion benchmarks (figures: README, Figures)
	@echo "Building the benchmarks in the bench profile: minutes when cold (measured: docs/performance-history.md)"
	cargo bench -p transformer
	cargo bench -p producer

measure: ## Cold start, peak memory and warm end-to-end time of the release binaries, through the local Runtime API stand-in
	@echo "Building the release binaries (LTO, one codegen unit): minutes when cold, seconds when warm (measured: docs/performance-history.md)"
	# One build: no normal dependency turns on a test-util feature, so the
	# function binaries built beside the tools are the release-shaped ones.
	cargo build --release --locked -p transformer -p producer -p harness
	$(BIN)/release/lambda-probe --binary $(BIN)/release/transformer --synthetic-transformer-bytes 6000000 --env REINGEST=false
	$(BIN)/release/lambda-probe --binary $(BIN)/release/producer --event events/producer/scheduled-rule.json
	$(BIN)/release/lambda-probe --binary $(BIN)/release/transformer --synthetic-direct-put-bytes 2000000 --repeat 50 --starts 0 --env REINGEST=false

watch: $(TOOLS) ## Serve both functions locally on the Lambda Invoke API (cargo lambda watch, port 9000); invoke from another terminal
	cargo lambda watch

# cargo lambda invoke talks to `make watch` on port 9000: say so instead of
# a bare "Connection refused" when nothing listens there.
WATCHING = (exec 3<>/dev/tcp/127.0.0.1/9000) 2>/dev/null || { echo "Nothing listens on 127.0.0.1:9000: start \`make watch\` in another terminal first." >&2; exit 2; }

# $(call INVOKE,function,event file): cargo lambda invoke, after checking
# the file exists (naming it), and without cargo-lambda's footer asking to
# start a discussion after every error the function returns.
INVOKE = if [ ! -f "$(2)" ]; then echo "No event file $(2): EVENT= names a JSON file (samples: events/$(1)/)." >&2; exit 2; fi; \
	$(WATCHING); set -o pipefail; cargo lambda invoke $(1) --data-file "$(2)" 2>&1 \
	| grep -v -e 'Was this behavior unexpected?' -e 'cargo-lambda/discussions'

invoke-transformer: $(TOOLS) ## Invoke the transformer under `make watch` with EVENT (default: events/transformer/direct-put.json)
	@$(call INVOKE,transformer,$(or $(EVENT),events/transformer/direct-put.json))

invoke-producer: $(TOOLS) ## Invoke the producer under `make watch` with EVENT (default: events/producer/scheduled-rule.json); without a sink the events print in the `make watch` terminal
	@$(call INVOKE,producer,$(or $(EVENT),events/producer/scheduled-rule.json))

clean: ## Remove what builds and runs write: target/ (Rust builds), out/ (the demo's lake), .aws-sam/'s build; keeps the virtualenvs and each environment's first-deploy mark
	@du -sh target out .aws-sam 2>/dev/null || true
	rm -rf target out
	@# .aws-sam/deployed-<env> says `sam deploy --guided` ran for that
	@# environment: kept, so the next make deploy does not ask again.
	if [ -d .aws-sam ]; then find .aws-sam -mindepth 1 -maxdepth 1 ! -name 'deployed-*' -exec rm -rf {} +; fi

distclean: clean ## clean, and remove the Python virtualenvs too (the next make reinstalls them)
	@du -sh .venv-* 2>/dev/null || true
	rm -rf .venv-* tools/npm/node_modules
