"""``audioval``: the one command line of the project.

Each subcommand lives in its own module and is registered here only once it works.
"""

from __future__ import annotations

from importlib.metadata import version

import click

from audioval_cli.batch import batch_command
from audioval_cli.corpus import corpus_group
from audioval_cli.index import index_group
from audioval_cli.stack import up_command
from audioval_cli.upload import upload_command
from audioval_cli.validate import validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("audioval"), prog_name="audioval")
def cli() -> None:
    """audioval: judge audio uploads before they touch storage.

    Real audio, data dressed up as a waveform, or a real track smuggling a payload.
    """


cli.add_command(validate_command)
cli.add_command(corpus_group)
cli.add_command(up_command)
cli.add_command(upload_command)
cli.add_command(batch_command)
cli.add_command(index_group)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
