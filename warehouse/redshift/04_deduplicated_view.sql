-- Step 4 of 4: one row per event, the first copy to arrive, keyed as the
-- curated table keys copies: by (event_id, occurred_at), so two events that
-- reuse an event_id at another event time stay two rows
-- (docs/curated-table.md, "The key"). A producer retry puts an event into
-- the stream twice with one event_id; the streaming view ingests both
-- records.
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
FROM (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY event_id, occurred_at ORDER BY received_at, dt
        ) AS copy_number
    FROM chat_events
) AS copies
WHERE copy_number = 1;
