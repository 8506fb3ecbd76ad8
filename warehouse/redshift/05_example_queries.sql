-- One of the stack's questions (template.yaml's named query
-- events-per-type-and-hour) in Redshift's dialect, over the same columns
-- (Trino's date_format is TO_CHAR here); Snowflake's recipes hold all four
-- (warehouse/snowflake/07_questions.sql). Not executed here yet
-- (docs/warehouses.md, "What is executed here").

-- events-per-type-and-hour
SELECT
    event_type,
    DATE_TRUNC('hour', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_events_deduplicated
WHERE
    dt >= TO_CHAR(CURRENT_DATE - 1, 'YYYY-MM-DD')
    AND occurred_at >= GETDATE() - INTERVAL '1 day'
GROUP BY 1, 2
ORDER BY 2, 1;

-- Ingestion errors of the streaming view, newest first.
SELECT
    record_time,
    partition_id,
    position,
    error_code,
    error_reason
FROM sys_stream_scan_errors
ORDER BY record_time DESC
LIMIT 20;
