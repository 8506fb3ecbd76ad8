-- The stack's questions (template.yaml's named queries over events) in
-- Redshift's dialect, over the streaming views, each answering as the named
-- query of the same name answers over the lake (`make warehouse-test`
-- executes them on DuckDB through chat_tools.warehouse.redshift_duckdb and compares).
-- "Now" is GETDATE(): the UTC wall clock, as occurred_at (TIMESTAMP, UTC).
-- The same questions over the curated table are in 06_curated_table.sql.

-- events-per-type-and-hour: the last day, each event counted once.
SELECT
    event_type,
    DATE_TRUNC('hour', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_events_deduplicated
WHERE occurred_at >= GETDATE() - INTERVAL '1 day'
GROUP BY 1, 2
ORDER BY 2, 1;

-- active-users-per-day: the last seven days.
SELECT
    event_date,
    COUNT(DISTINCT user_id) AS active_users,
    COUNT(CASE WHEN event_type = 'send_message' THEN 1 END) AS messages
FROM chat_events_deduplicated
WHERE occurred_at >= CAST(GETDATE() AS DATE) - 7
GROUP BY event_date
ORDER BY event_date;

-- events-in-the-last-hour: what the view holds up to the last refresh.
SELECT
    event_type,
    COUNT(*) AS events,
    MAX(received_at) AS latest_arrival
FROM chat_events_deduplicated
WHERE occurred_at >= GETDATE() - INTERVAL '1 hour'
GROUP BY event_type
ORDER BY event_type;

-- retry-copies-per-day: records ingested per arrival day against distinct
-- event_ids (as the named query counts them).
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
