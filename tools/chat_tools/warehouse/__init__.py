"""The warehouse recipes executed here (make warehouse-test): the inputs
both warehouses read (`inputs`), Redshift's SQL on DuckDB (`redshift`,
`redshift_duckdb`), Snowflake's on fakesnow (`snowflake`), and how answers
are compared (`answers`)."""
