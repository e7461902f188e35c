"""``audioval corpus``: sample files for trying the CLI, and the dev corpus the model learns from."""

from __future__ import annotations

from pathlib import Path

import click

# audioval_corpus is imported by the commands that use it: it loads scipy.signal and
# scipy.stats (~3 CPU s), which every other `audioval` command (`up` first) would pay for.


@click.group("corpus")
def corpus_group() -> None:
    """Sample files, and the dev corpus (real audio from Debian packages plus disguises)."""


@corpus_group.command("samples")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("samples"),
    show_default=True,
)
def samples_command(out: Path) -> None:
    """Write a dozen small good and bad sample files (made here, nothing downloaded)."""
    from audioval_corpus.samples import write_samples

    for path in write_samples(out):
        click.echo(str(path))


@corpus_group.command(
    "build",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def build_command(ctx: click.Context) -> None:
    """Build or resume the dev corpus (--out DIR --scale small|full --seed N --jobs N --no-fetch; -h for help)."""
    from audioval_corpus.cli import main as corpus_main

    ctx.exit(corpus_main(["build", *ctx.args]))
