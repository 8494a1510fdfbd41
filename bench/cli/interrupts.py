"""What an interrupt says and does, shared by the console script's start-up (:mod:`hello_bench.cli`) and the parser's
run of a command (:mod:`hello_bench.cli.parser`), which both import it and never each other. Nothing else is imported."""

INTERRUPTED = "interrupted: records written so far are kept; rerun the same command to resume"


def terminate(signum: int, frame: object) -> None:
    """SIGTERM behaves like Ctrl-C: records written so far are kept, workers are stopped, exit 130."""
    raise KeyboardInterrupt
