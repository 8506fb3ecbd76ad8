"""Curation on this machine: the stack's curation state machine, its own
definition (statemachine/) run on moto's Step Functions interpreter
(`workflow`), its Athena queries on a local Athena (`local_athena`), the
curated Iceberg table (`curated`), and the bench of its cost (`bench`:
`python -m chat_tools.curation.bench`)."""
