"""The `envdoctor` command line.

Commands other than check/rules/snapshot/diff live in their own modules and are
imported only when invoked, so `envdoctor check` stays fast and never imports
torch, transformers or bitsandbytes.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from envdoctor import __version__
from envdoctor.errors import InputError

# name -> (module:attribute, one-line help); imported on first use.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("envdoctor.explain:command", "Explain an error log: the rule, the cause and the fix."),
    "estimate": ("envdoctor.memory:command", "Predict peak GPU memory and host RAM of a QLoRA run."),
    "fix": ("envdoctor.fixer:fix_command", "Plan (or --apply) the fixes for the current findings."),
    "rollback": ("envdoctor.fixer:rollback_command", "Undo the last `envdoctor fix --apply`."),
    "lock": ("envdoctor.locking:command", "Write or verify pinned lockfiles."),
    "init": ("envdoctor.config:init_command", "Write a commented starter envdoctor.yaml."),
    "run": ("envdoctor.pipeline.cli:command", "Check, then run the bundled QLoRA pipeline."),
}


class LazyGroup(click.Group):
    """A click group whose extra commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in LAZY_COMMANDS:
            return super().get_command(ctx, name)
        if ctx.resilient_parsing or "--help" in sys.argv[1:2]:
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
    try:
        cli.main(standalone_mode=False)
    except InputError as exc:
        click.echo(f"envdoctor: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("envdoctor: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("envdoctor: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="envdoctor")
def cli() -> None:
    """Make LLM fine-tuning runs start and finish on the first try.

    Start with `envdoctor check`; read any rule with `envdoctor rules CODE`.
    """


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that choose the environment to inspect."""
    from envdoctor.target import platform_names

    options = [
        click.option("--python", "python", metavar="PATH", help="Inspect another interpreter (a venv's or a kernel's python)."),
        click.option("--env", "env_file", type=click.Path(path_type=Path), metavar="FILE",
                     help="Inspect a pip freeze / lock file or a saved snapshot JSON instead."),
        click.option("--python-version", metavar="X.Y[.Z]", help="Target Python for --env FILE (default: this one)."),
        click.option("--platform", type=click.Choice(platform_names()), help="Target platform for --env FILE."),
        click.option("--cuda", metavar="X.Y", help="State the target's CUDA version (overrides torch's label)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@target_options
@click.option("--offline", is_flag=True, help="Use the metadata cache and knowledge base only; fetch nothing.")
@click.option("--path", "project_path", type=click.Path(path_type=Path), default=None,
              help="Project folder to scan for files, data and configs (default: the current folder).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Training config (default: ./envdoctor.yaml if present).")
@click.option("--llamafactory", "llamafactory_file", type=click.Path(path_type=Path), help="A LLaMA-Factory training YAML to check.")
@click.option("--gpu", "gpu_target", metavar="NAME", help="Plan for a named GPU (e.g. T4) instead of the live one.")
@click.option("--no-project", is_flag=True, help="Check the environment only; skip files, data and configs.")
@click.option("--keep", multiple=True, metavar="PKG", help="A package fixes must not move (repeatable).")
@click.option("--select", multiple=True, metavar="CODE|NAME", help="Run only these rules (codes, prefixes or names).")
@click.option("--ignore", multiple=True, metavar="CODE|NAME", help="Skip these rules.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def check(python: str | None, env_file: Path | None, python_version: str | None, platform: str | None,
          cuda: str | None, offline: bool, project_path: Path | None, config_file: Path | None,
          llamafactory_file: Path | None, gpu_target: str | None, no_project: bool, keep: tuple[str, ...],
          select: tuple[str, ...], ignore: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check the environment (and project) for what will break a fine-tuning run.

    Exit codes: 0 no errors, 1 errors (or warnings with --strict), 2 bad input or internal error.
    """
    from envdoctor import checking

    result = checking.run_check(
        checking.CheckRequest(python=python, env_file=env_file, python_version=python_version,
                              platform=platform, cuda=cuda, offline=offline, project_path=project_path,
                              config_file=config_file, llamafactory_file=llamafactory_file,
                              gpu_target=gpu_target, include_project=not no_project, keep=keep,
                              select=select, ignore=ignore, quiet=fmt != "text"))
    click.echo(checking.render(result, fmt, strict, color=sys.stdout.isatty()))
    sys.exit(checking.exit_code(result.findings, strict))


@cli.command()
@click.argument("rule", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(rule: str | None, fmt: str) -> None:
    """List every rule, or print one rule's documentation (by code or name)."""
    from envdoctor import knowledge

    kb = knowledge.load()
    if rule is not None:
        entry = kb.by_name_or_code(rule)
        if entry is None:
            raise InputError(f"no rule {rule!r}; `envdoctor rules` lists them all")
        if fmt == "json":
            click.echo(json.dumps({"code": entry.code, "name": entry.name, "severity": entry.severity.value,
                                   "docs": entry.docs(), "evidence": list(entry.evidence)}, indent=2))
        else:
            click.echo(entry.docs(), nl=False)
        return
    entries = sorted(kb.rules.values(), key=lambda e: e.code)
    if fmt == "json":
        click.echo(json.dumps([{"code": e.code, "name": e.name, "severity": e.severity.value,
                                "summary": e.summary} for e in entries], indent=2))
        return
    width = max(len(e.name) for e in entries)
    for e in entries:
        click.echo(f"{e.code}  {e.name:<{width}}  {e.severity.value:<7}  {e.summary}")


@cli.command()
@target_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the snapshot JSON here (default: stdout).")
def snapshot(python: str | None, env_file: Path | None, python_version: str | None, platform: str | None,
             cuda: str | None, output: Path | None) -> None:
    """Record the environment (packages, Python, CUDA, driver, GPUs, RAM) as JSON."""
    from envdoctor import snapshot as snapshot_mod
    from envdoctor.target import resolve

    snap = resolve(python, env_file, python_version, platform, cuda)
    if output is None:
        click.echo(json.dumps(snap.to_dict(), indent=2, sort_keys=True))
        return
    try:
        snapshot_mod.save(snap, output)
    except OSError as exc:
        raise InputError(f"{output}: cannot write it ({exc.strerror})")
    click.echo(f"wrote {output} ({len(snap.distributions)} packages); compare later with "
               f"`envdoctor diff {output} live`", err=True)


@cli.command()
@click.argument("a")
@click.argument("b", default="live")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff(a: str, b: str, fmt: str) -> None:
    """Compare two environments: snapshot JSONs, freeze files, or `live` (default for B).

    Exit 0 when they match, 1 when they differ.
    """
    from envdoctor.diff import diff as diff_snapshots
    from envdoctor.target import resolve

    def load(spec: str) -> Any:
        return resolve(None, None if spec == "live" else Path(spec), None, None, None)

    result = diff_snapshots(load(a), load(b))
    click.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else result.to_text())
    sys.exit(0 if result.empty else 1)
