"""One module per `vdbench` subcommand."""
