"""`newsbot` (also `python -m bot`): one command line, one module per subcommand.

`main` parses the arguments and loads the settings; each module adds its subcommand's
arguments and runs it (run, migrate, send, shell, feeds, preview, summarize, cluster).
Modules import what they run only when they run it, so `newsbot --help` stays quick.
"""
