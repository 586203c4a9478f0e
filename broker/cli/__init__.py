"""The `rafka` command line: argument parsing (main.py) and one module per
command (*_cmd.py); errors.py holds the CliError every command raises.

The contract (DESIGN.md): --bootstrap, --json, --debug on every command;
exit 0 on success, else one line with Kafka's error name. Commands reach a
running cluster only through client/; `node start`, `format` and `quorum up`
call node/ to run or lay out local processes.
"""
