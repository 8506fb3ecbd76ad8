"""The landed lake on this machine, read as Athena reads the stack's tables:
`cli` (make query, describe, curate, reconcile; `python -m chat_tools.lake`),
`engine` (DuckDB over the lake's files), `dialect` (Athena's SQL in DuckDB's),
`raw_table` (chat_events and the failed records as template.yaml declares
them), `synthetic_lake` (lakes for tests and benches)."""
