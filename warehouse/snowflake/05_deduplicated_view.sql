-- Step 5 of 5: one row per event, the first copy to arrive, keyed as the
-- curated table keys copies: by (event_id, occurred_at), so two events that
-- reuse an event_id at another event time stay two rows
-- (docs/curated-table.md, "The key"). `make warehouse-test` checks it equals
-- chat_events_curated row for row.
CREATE OR REPLACE VIEW chat_events_deduplicated AS
SELECT
    event_id,
    event_type,
    user_id,
    session_id,
    seq,
    occurred_at,
    event_date,
    received_at,
    source,
    schema_version,
    dt
FROM chat_events
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id, occurred_at ORDER BY received_at, dt) = 1;

-- The questions (07_questions.sql) read chat_events_unique: one row per
-- event, from whichever source you use. Over the pipe's table, this one;
-- over the curated Iceberg table, the one in 06_curated_iceberg_table.sql
-- instead (the same columns: either replaces the other).
CREATE OR REPLACE VIEW chat_events_unique AS
SELECT event_id, event_type, user_id, session_id, seq, occurred_at, event_date, received_at, source, schema_version
FROM chat_events_deduplicated;

-- Load status of the pipe, and per-file load history of the last day.
SELECT SYSTEM$PIPE_STATUS('chat_events_pipe');

SELECT file_name, last_load_time, row_count, error_count, first_error_message
FROM TABLE(
    INFORMATION_SCHEMA.COPY_HISTORY(
        TABLE_NAME => 'CHAT_EVENTS',
        START_TIME => DATEADD(DAY, -1, CURRENT_TIMESTAMP())
    )
)
ORDER BY last_load_time DESC;
