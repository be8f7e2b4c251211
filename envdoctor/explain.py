"""`envdoctor explain [FILE|-]`: from an error log to the rule, the cause and the fix.

The log is read as a stream (envdoctor.logscan), matched against the knowledge
base's error signatures (envdoctor.extractors) and each match is explained and
checked against a target environment (envdoctor.interpret): the live
interpreter by default, ``--python PATH``, a freeze/lock with ``--env FILE``, or
nothing with ``--no-env``.  Output, formats and exit codes are `envdoctor
check`'s: 0 nothing known (or only causes the target rules out), 1 known errors,
2 bad input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import click

from envdoctor import checking, knowledge, report
from envdoctor.cli import target_options
from envdoctor.errors import InputError
from envdoctor.extractors import Scanner
from envdoctor.findings import Finding
from envdoctor.interpret import Evidence, explain_groups
from envdoctor.logscan import LogInfo, read_log


@dataclass(frozen=True)
class ExplainResult:
    """Findings of one log, what they were compared with, and notes for the reader."""

    findings: list[Finding]
    log: LogInfo
    evidence: Evidence
    notes: list[str]


def explain_log(path: Path | None, stdin: BinaryIO, request: checking.CheckRequest | None,
                db: Path | None) -> ExplainResult:
    """Scan the log, then compare each cause with the requested target (None: the text alone).

    The target's project facts (envdoctor.yaml, its database and paths, the files of the
    current folder) come from the same collector `envdoctor check` uses; ``db`` overrides
    the config's data.db.
    """
    kb = knowledge.load()
    log, lines = read_log(path, stdin)
    scan = Scanner(kb).scan(lines)
    notes = [f"read {log.name}: {log.lines} lines, {log.encoding}"
             + (" (notebook cell outputs)" if log.kind == "notebook" else "")]
    if request is None:
        evidence = Evidence(kb=kb, facts=scan.facts, local=False)
        notes.append("explained from the log text alone (--no-env): versions, files and databases were not checked")
    else:
        ctx = checking.build_context(request, kb)
        config = getattr(ctx.project, "config", None)
        evidence = Evidence(kb=kb, facts=scan.facts, ctx=ctx, python=request.python,
                            db=db or (config.data.db if config else None))
        notes.append(f"compared with {ctx.snapshot.source}: Python {ctx.snapshot.python_version}, "
                     f"{len(ctx.snapshot.distributions)} packages")
        notes.extend([*ctx.snapshot.notes, *getattr(ctx.project, "notes", ())])
    if scan.dropped_groups:
        notes.append(f"{scan.dropped_groups} further distinct error lines were not explained (too many kinds)")
    findings = explain_groups(scan.groups, evidence)
    if not findings:
        notes.append("nothing known in this log: no line matches a rule (`envdoctor rules` lists them); "
                     "pass the full output, traceback included (`cmd 2>&1 | tee run.log`)")
    return ExplainResult(findings=findings, log=log, evidence=evidence, notes=notes)


def render(result: ExplainResult, fmt: str, color: bool) -> str:
    """Text, JSON or SARIF, with `envdoctor check`'s renderers."""
    ctx = result.evidence.ctx
    target = checking.describe_target(ctx.snapshot) if ctx else {"source": "none (--no-env)"}
    target = {**target, "log": {"path": result.log.name, "lines": result.log.lines,
                                "encoding": result.log.encoding, "kind": result.log.kind}}
    if fmt == "json":
        return report.render_json(result.findings, target, result.notes)
    if fmt == "sarif":
        return report.render_sarif(result.findings, list(result.evidence.kb.rules.values()), result.log.name)
    against = f"{ctx.snapshot.source}" if ctx else "text only"
    header = f"envdoctor explain · {result.log.name} · {result.log.lines} lines · against {against}"
    python = (ctx.snapshot.executable if ctx else None) or "python"
    return report.render_text(result.findings, header, python, result.notes, color)


@click.command("explain")
@click.argument("log", required=False, metavar="[FILE|-]")
@target_options
@click.option("--no-env", is_flag=True, help="Explain from the log text alone; do not inspect any environment.")
@click.option("--db", "db_file", type=click.Path(path_type=Path), metavar="FILE",
              help="SQLite database for `no such column` suggestions (default: data.db of ./envdoctor.yaml).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), metavar="FILE",
              help="envdoctor.yaml for data.db, paths and model (default: ./envdoctor.yaml if present).")
@click.option("--offline", is_flag=True, help="With --env: use the metadata cache only; fetch nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
def command(log: str | None, python: str | None, env_file: Path | None, python_version: str | None,
            platform: str | None, cuda: str | None, no_env: bool, db_file: Path | None, config_file: Path | None,
            offline: bool, fmt: str) -> None:
    """Explain an error log: the rule, the cause, the fix, and how sure envdoctor is.

    FILE is a log, a notebook (.ipynb) or - for stdin. By default each cause is
    checked against the live environment; --python/--env pick another target,
    --no-env uses the text alone.

    Exit codes: 0 nothing known (or every cause ruled out), 1 known errors, 2 bad input.
    """
    stdin = click.get_binary_stream("stdin")
    if log is None and sys.stdin.isatty():
        raise InputError("no log given: pass a file (`envdoctor explain run.log`) or pipe one "
                         "(`cmd 2>&1 | envdoctor explain -`)")
    if no_env and (python or env_file):
        raise InputError("--no-env explains from the text alone; drop --python/--env or --no-env")
    if db_file is not None and not db_file.is_file():
        raise InputError(f"{db_file}: no such file; pass the SQLite database to --db")
    path = None if log in (None, "-") else Path(log)
    request = None if no_env else checking.CheckRequest(
        python=python, env_file=env_file, python_version=python_version, platform=platform, cuda=cuda,
        offline=offline, config_file=config_file, quiet=fmt != "text")
    db = None if no_env else db_file
    if fmt == "text" and sys.stderr.isatty():
        click.echo(f"reading {log or '<stdin>'}…", err=True)
    result = explain_log(path, stdin, request, db)
    click.echo(render(result, fmt, color=sys.stdout.isatty()))
    sys.exit(report.exit_code(result.findings))
