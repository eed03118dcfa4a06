"""CLI commands of this domain (registered in ``aicrm.cli``)."""

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _callback() -> None:
    """Commands of this domain."""
