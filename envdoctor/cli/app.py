"""The `envdoctor` command line.

Every command lives in its own module of this package and is imported only when
invoked, so `envdoctor check` stays fast and never imports torch, transformers or
bitsandbytes.  :func:`main` is the one place that maps exceptions to exit codes.
"""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Callable

import click

from envdoctor import __version__
from envdoctor.cli.streams import open_closed_streams, silence_stdout
from envdoctor.errors import ExitCode, InputError
from envdoctor.userfiles import one_line

# name -> (module:attribute, one-line help); imported on first use.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("envdoctor.cli.check:check", "Check the environment (and project) for what will break a run."),
    "rules": ("envdoctor.cli.rules:rules", "List every rule, or print one rule's documentation."),
    "snapshot": ("envdoctor.cli.snapshot:snapshot", "Record the environment as JSON."),
    "diff": ("envdoctor.cli.snapshot:diff", "Compare two environments (snapshots, freezes or `live`)."),
    "explain": ("envdoctor.cli.explain:command", "Explain an error log: the rule, the cause and the fix."),
    "estimate": ("envdoctor.cli.estimate:command", "Predict peak GPU memory and host RAM of a QLoRA run."),
    "fix": ("envdoctor.cli.fix:fix_command", "Plan (or --apply) the fixes for the current findings."),
    "rollback": ("envdoctor.cli.fix:rollback_command", "Undo the last `envdoctor fix --apply`."),
    "lock": ("envdoctor.cli.lock:command", "Write or verify pinned lockfiles."),
    "init": ("envdoctor.cli.init:init_command", "Write a commented starter envdoctor.yaml."),
    "run": ("envdoctor.cli.run:command", "Check, then run the bundled QLoRA pipeline."),
    "reproduce": ("envdoctor.cli.reproduce:command", "Rebuild a recorded run and say whether it reproduces."),
}


class LazyGroup(click.Group):
    """A click group whose extra commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in LAZY_COMMANDS:
            return super().get_command(ctx, name)
        if ctx.resilient_parsing or set(sys.argv[1:2]) & set(ctx.help_option_names):
            return click.Command(name, help=LAZY_COMMANDS[name][1])
        module_name, attribute = LAZY_COMMANDS[name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("envdoctor"):
                return click.Command(name, help=LAZY_COMMANDS[name][1] + " (not in this build)",
                                     callback=_missing(name))
            raise
        command: click.Command = getattr(module, attribute)
        return command


def _missing(name: str) -> Callable[[], None]:
    def callback() -> None:
        raise InputError(f"`envdoctor {name}` is not part of this build; upgrade envdoctor")
    return callback


def main() -> None:
    """Console entry point: one-line errors with exit 2 for bad input."""
    open_closed_streams()
    try:
        cli.main(standalone_mode=False)
        sys.stdout.flush()  # a closed pipe (`envdoctor rules | head -1`) shows here, not at exit
    except InputError as exc:
        click.echo(one_line(f"envdoctor: error: {exc}"), err=True)
        sys.exit(2)
    except ExitCode as exc:
        sys.exit(exc.code)
    except click.exceptions.Abort:
        click.echo("envdoctor: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "envdoctor"
        click.echo(one_line(f"envdoctor: error: {exc.format_message()} (see `{command} --help`)"), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(one_line(f"envdoctor: error: {exc.format_message()}"), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("envdoctor: interrupted", err=True)
        sys.exit(130)
    except SystemExit as exc:
        # click turns a closed stdout (EPIPE) into exit 1 after wrapping stdout; the reader
        # (`envdoctor rules | head -1`) has what it wanted, which is success
        if exc.code == 1 and type(sys.stdout).__name__.lstrip("_") == "PacifyFlushWrapper":
            sys.exit(0)
        raise
    except BrokenPipeError:
        silence_stdout()
        sys.exit(0)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT):
            raise
        silence_stdout()
        click.echo(f"envdoctor: error: cannot write the output ({exc.strerror}); free space or redirect it", err=True)
        sys.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="envdoctor")
def cli() -> None:
    """Make LLM fine-tuning runs start and finish on the first try.

    Start with `envdoctor check`; read any rule with `envdoctor rules CODE`.
    """
