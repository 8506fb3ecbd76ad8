"""`python -m chat_tools.emulator`: see chat_tools.emulator.server."""

from chat_tools.emulator.server import main

main()
