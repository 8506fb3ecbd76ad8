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

-- events-per-type-and-hour, from the curated table: a filter on occurred_at
-- reads only those event days (the table is partitioned by day(occurred_at)).
SELECT
    event_type,
    DATE_TRUNC('hour', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_lake.chat_events_curated
WHERE occurred_at >= GETDATE() - INTERVAL '1 day'
GROUP BY 1, 2
ORDER BY 2, 1;
