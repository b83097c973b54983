"""The `bench` command line: a parser, one module per command group; thin (parse, call one function, exit code)."""
