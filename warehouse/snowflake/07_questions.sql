-- The stack's questions (template.yaml's named queries) in Snowflake's
-- dialect, each written once, over chat_events_unique: one row per event,
-- from the pipe's table (05_deduplicated_view.sql) or from the curated
-- Iceberg table (06_curated_iceberg_table.sql). `make warehouse-test` runs
-- this file over both, on fakesnow, and each answer must equal the named
-- query of the same name over the lake. "Now" is SYSDATE(): UTC, as
-- occurred_at (TIMESTAMP_NTZ, UTC wall clock). CURRENT_TIMESTAMP() is in
-- the session's time zone (America/Los_Angeles unless set), which would
-- shift every window by its offset.

-- events-per-type-and-hour: the last day, each event counted once.
SELECT
    event_type,
    DATE_TRUNC('HOUR', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_events_unique
WHERE occurred_at >= DATEADD(DAY, -1, SYSDATE())
GROUP BY 1, 2
ORDER BY 2, 1;

-- active-users-per-day: the last seven days.
SELECT
    event_date,
    COUNT(DISTINCT user_id) AS active_users,
    COUNT_IF(event_type = 'send_message') AS messages
FROM chat_events_unique
WHERE occurred_at >= DATEADD(DAY, -7, SYSDATE()::DATE)
GROUP BY event_date
ORDER BY event_date;

-- events-in-the-last-hour: what the source holds up to its last load (the
-- pipe's table) or curation run (the curated table).
SELECT
    event_type,
    COUNT(*) AS events,
    MAX(received_at) AS latest_arrival
FROM chat_events_unique
WHERE occurred_at >= DATEADD(HOUR, -1, SYSDATE())
GROUP BY event_type
ORDER BY event_type;

-- retry-copies-per-day: rows loaded per arrival day against distinct
-- event_ids (as the named query counts them). It reads the raw copies, which
-- only the pipe's chat_events holds: the curated table keeps one each.
SELECT
    dt,
    COUNT(*) AS rows_landed,
    COUNT(DISTINCT event_id) AS events,
    COUNT(*) - COUNT(DISTINCT event_id) AS retry_copies
FROM chat_events
WHERE dt >= TO_VARCHAR(DATEADD(DAY, -7, SYSDATE()::DATE), 'YYYY-MM-DD')
GROUP BY dt
ORDER BY dt;
