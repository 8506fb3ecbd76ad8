"""The stack in an emulator: template.yaml translated and deployed into
MiniStack (`ministack`), what is asserted of what it created
(`assertions`), the run (`deploy`: `python -m chat_tools.stack`), and the
dashboard's layout drawn for the docs (`dashboard`)."""
