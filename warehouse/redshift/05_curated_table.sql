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

-- The questions (06_questions.sql) read chat_events_unique: over the curated
-- table, this one (over the stream, the one in 04_deduplicated_view.sql).
-- A view over an external table must be late-binding: WITH NO SCHEMA
-- BINDING (Redshift Database Developer Guide, CREATE VIEW).
DROP VIEW IF EXISTS chat_events_unique;
CREATE VIEW chat_events_unique AS
SELECT event_id, event_type, user_id, session_id, seq, occurred_at, event_date, received_at, source, schema_version
FROM chat_lake.chat_events_curated
WITH NO SCHEMA BINDING;
