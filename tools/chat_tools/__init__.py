"""The chat pipeline's local tools, one subpackage per job. Each job runs in
its own virtualenv (pins: tools/pyproject.toml) and is started by the
Makefile as `python -m chat_tools.<job>`:

* `lake`: the landed lake on this machine, in DuckDB as Athena reads it:
  `make query`, `describe`, `curate`, `reconcile` (`python -m chat_tools.lake`),
  Athena's dialect translated, the raw and curated tables, synthetic lakes;
* `curation`: the stack's curation state machine, its own definition run on
  moto's Step Functions interpreter, the curated Iceberg table and a local
  Athena; `make curation-bench` (`python -m chat_tools.curation.bench`);
* `stack`: template.yaml deployed into the MiniStack emulator and checked
  (`make deploy-local`: `python -m chat_tools.stack`), the dashboard's layout;
* `checks`: the SQL checks (`make sql-check`) and the template variants
  `make template-check` lints;
* `warehouse`: the Redshift and Snowflake recipes executed locally
  (`make warehouse-test`);
* `emulator`: the AWS emulator every local run talks to (moto's server, with
  fault injection), started by the Rust harness.

Shared by all: `paths` (where the repository's files are), `cfn_template`
(reading template.yaml and the workflow's definition), `moto_patch` (the one
place moto is changed), `pins` (the virtualenvs' pins).
"""
