"""Offline checks: every SQL text parses in its dialect and every consumer's
columns match the schema (`sql`: `python -m chat_tools.checks.sql`), the
template with its options switched on for the linters
(`template_variants`), and the report both print (`report`)."""
