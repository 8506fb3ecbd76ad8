-- The stack's questions (template.yaml's named queries) in Redshift's
-- dialect, each written once, over chat_events_unique: one row per event,
-- from the stream (04_deduplicated_view.sql) or from the curated table
-- (05_curated_table.sql). `make warehouse-test` runs this file over both,
-- on DuckDB through chat_tools.warehouse.redshift_duckdb, and each answer
-- must equal the named query of the same name over the lake.
-- "Now" is GETDATE(): the UTC wall clock, as occurred_at (TIMESTAMP, UTC).

-- events-per-type-and-hour: the last day, each event counted once.
SELECT
    event_type,
    DATE_TRUNC('hour', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_events_unique
WHERE occurred_at >= GETDATE() - INTERVAL '1 day'
GROUP BY 1, 2
ORDER BY 2, 1;

-- active-users-per-day: the last seven days.
SELECT
    event_date,
    COUNT(DISTINCT user_id) AS active_users,
    COUNT(CASE WHEN event_type = 'send_message' THEN 1 END) AS messages
FROM chat_events_unique
WHERE occurred_at >= CAST(GETDATE() AS DATE) - 7
GROUP BY event_date
ORDER BY event_date;

-- events-in-the-last-hour: what the source holds up to its last refresh
-- (the stream's view) or curation run (the curated table).
SELECT
    event_type,
    COUNT(*) AS events,
    MAX(received_at) AS latest_arrival
FROM chat_events_unique
WHERE occurred_at >= GETDATE() - INTERVAL '1 hour'
GROUP BY event_type
ORDER BY event_type;

-- retry-copies-per-day: records ingested per arrival day against distinct
-- event_ids (as the named query counts them). It reads the raw copies, which
-- only the stream's chat_events holds: the curated table keeps one each.
SELECT
    dt,
    COUNT(*) AS rows_landed,
    COUNT(DISTINCT event_id) AS events,
    COUNT(*) - COUNT(DISTINCT event_id) AS retry_copies
FROM chat_events
WHERE dt >= TO_CHAR(CAST(GETDATE() AS DATE) - 7, 'YYYY-MM-DD')
GROUP BY dt
ORDER BY dt;

-- Ingestion errors of the streaming view, newest first (an account only).
SELECT
    record_time,
    partition_id,
    position,
    error_code,
    error_reason
FROM sys_stream_scan_errors
ORDER BY record_time DESC
LIMIT 20;
