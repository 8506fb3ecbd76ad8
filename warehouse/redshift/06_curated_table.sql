-- Redshift over the curated Iceberg table (chat_events_curated), one row per
-- event, through the Glue Data Catalog: no load, no refresh. The workgroup's
-- default role (the stack's RedshiftStreamingRole) may read the table's
-- definition and its files under curated/ (template.yaml). Redshift reads
-- Iceberg tables of the Glue Data Catalog through an external schema
-- (Redshift Database Developer Guide, "Using Apache Iceberg tables with
-- Amazon Redshift"); the auto-mounted catalog works too:
-- "awsdatacatalog"."<GlueDatabase>"."chat_events_curated".
--
-- DATABASE: the stack output GlueDatabase (chat_pipeline_staging for the
-- stack chat-pipeline-staging).
CREATE EXTERNAL SCHEMA IF NOT EXISTS chat_lake
FROM DATA CATALOG
DATABASE 'chat_pipeline_staging'
IAM_ROLE DEFAULT;

-- The stack's questions over the curated table, each answering as the named
-- query of the same name (`make warehouse-test` executes them on DuckDB over
-- the lake's curated table and compares). A filter on occurred_at reads only
-- those event days (the table is partitioned by day(occurred_at)).
-- retry-copies-per-day reads the raw copies, which the curated table does
-- not hold: over the stream, it is in 05_example_queries.sql.

-- events-per-type-and-hour
SELECT
    event_type,
    DATE_TRUNC('hour', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_lake.chat_events_curated
WHERE occurred_at >= GETDATE() - INTERVAL '1 day'
GROUP BY 1, 2
ORDER BY 2, 1;

-- active-users-per-day
SELECT
    event_date,
    COUNT(DISTINCT user_id) AS active_users,
    COUNT(CASE WHEN event_type = 'send_message' THEN 1 END) AS messages
FROM chat_lake.chat_events_curated
WHERE occurred_at >= CAST(GETDATE() AS DATE) - 7
GROUP BY event_date
ORDER BY event_date;

-- events-in-the-last-hour
SELECT
    event_type,
    COUNT(*) AS events,
    MAX(received_at) AS latest_arrival
FROM chat_lake.chat_events_curated
WHERE occurred_at >= GETDATE() - INTERVAL '1 hour'
GROUP BY event_type
ORDER BY event_type;
