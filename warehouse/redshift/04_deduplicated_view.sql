-- Step 4 of 4: one row per event_id, the first copy to arrive: the same view
-- the stack's Athena named query create-deduplicated-view makes, over the
-- same columns. A producer retry puts an event into the stream twice with
-- one event_id; the streaming view ingests both records.
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
            PARTITION BY event_id ORDER BY received_at, dt
        ) AS copy_number
    FROM chat_events
) AS copies
WHERE copy_number = 1;
