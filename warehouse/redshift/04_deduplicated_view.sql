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

-- The questions (06_questions.sql) read chat_events_unique: one row per
-- event, from whichever source you use. Over the stream, this one; over the
-- curated table, the one in 05_curated_table.sql instead. Dropped and
-- created rather than replaced: CREATE OR REPLACE VIEW must keep the view's
-- column types (Redshift Database Developer Guide, CREATE VIEW), and the two
-- sources type them differently; WITH NO SCHEMA BINDING makes it a
-- late-binding view, which a view over an external table must be.
DROP VIEW IF EXISTS chat_events_unique;
CREATE VIEW chat_events_unique AS
SELECT event_id, event_type, user_id, session_id, seq, occurred_at, event_date, received_at, source, schema_version
FROM chat_events_deduplicated
WITH NO SCHEMA BINDING;
