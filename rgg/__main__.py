"""``python -m rgg``."""

from rgg.cli import console_main

console_main()
