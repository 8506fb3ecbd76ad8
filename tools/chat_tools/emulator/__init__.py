"""The AWS emulator of every local run: moto's server with its Kinesis race
fixed (chat_tools.moto_patch) and faults injected at the wire on request
(`server`; `python -m chat_tools.emulator`)."""
