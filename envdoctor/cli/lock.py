"""`envdoctor lock FILE.in` and `envdoctor lock verify`: the click commands over :mod:`envdoctor.lock.write`."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from envdoctor.engine import report
from envdoctor.engine.check import render
from envdoctor.env.probe import marker_environment
from envdoctor.env.requirements import is_kept
from envdoctor.env.target import platform_names
from envdoctor.errors import InputError
from envdoctor.fix.resolve import LockTarget, Resolved, lock
from envdoctor.knowledge import base as knowledge
from envdoctor.env.lock_header import LockHeader, foreign_header, input_digest, read_header
from envdoctor.env.record import load as load_record
from envdoctor.lock.from_record import lock_record
from envdoctor.lock.write import (VERIFY_BUDGET_S, check_lock, lock_files, lock_text, native_platform, output_for,
                                  pinned_cuda)


class LockGroup(click.Group):
    """`envdoctor lock FILE.in` runs the default `write` command; `verify` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


@click.group(cls=LockGroup)
def command() -> None:
    """Write pinned, checked lockfiles (`envdoctor lock FILE.in`) or verify them (`envdoctor lock verify`)."""


@command.command("write")
@click.argument("in_file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--from", "record", type=click.Path(path_type=Path, dir_okay=False), metavar="RECORD",
              help="Lock the environment a run record (training_info.json) or snapshot JSON describes, "
                   "with the hashes of its exact files from the index.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the lock (default: FILE.txt beside FILE.in).")
@click.option("--python-version", metavar="X.Y", help="Lock for another Python (uses pip's resolver).")
@click.option("--platform", type=click.Choice(platform_names()), help="Lock for another platform (uses pip's resolver).")
@click.option("--cuda", metavar="X.Y", help="The target's CUDA version, recorded in the header and checked by rules.")
@click.option("--generate-hashes", is_flag=True, help="Add --hash lines (pip's hash-checking mode).")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Leave these packages out of the lock because the platform provides them (e.g. 'nvidia-*').")
@click.option("--offline", is_flag=True, help="Check the result without fetching package metadata.")
def write(in_file: Path | None, record: Path | None, output: Path | None, python_version: str | None,
          platform: str | None, cuda: str | None, generate_hashes: bool, exclude: tuple[str, ...],
          offline: bool) -> None:
    """Resolve FILE.in into a pinned lock (or lock --from RECORD), check it with every rule, and
    write it only if it passes.

    Exit codes: 0 written, 1 the resolution breaks a rule (nothing written), 2 bad input.
    """
    if record is not None:
        if in_file is not None or output is None:
            raise InputError("--from RECORD takes no FILE.in and needs -o FILE (where to write the lock)")
        _write_from_record(record, output, offline)
        return
    if in_file is None:
        raise InputError("pass a requirements FILE.in to lock, or --from RECORD with -o FILE")
    if not in_file.is_file():
        raise InputError(f"{in_file}: no such file; pass a requirements .in file")
    output = output_for(in_file, output)
    target = LockTarget(python=python_version or marker_environment()["python_version"],
                        platform=platform or native_platform(),
                        cuda=cuda, foreign=bool(python_version or platform))
    progress = sys.stderr.isatty()
    if progress:
        click.echo(f"… resolving {in_file} for Python {target.python} {target.platform}", err=True)
    result = lock(in_file, target, generate_hashes, knowledge.load())
    if result.resolved is None:
        click.echo(report.render_text(result.findings, f"envdoctor lock · {in_file} · cannot satisfy the rules",
                                      sys.executable))
        sys.exit(1)
    resolved = Resolved(pins=[p for p in result.resolved.pins if not is_kept(p[0], exclude)],
                        made_with=result.resolved.made_with)
    pinned = pinned_cuda(result.resolved.pins)  # before --exclude: the CUDA wheels torch pulled in
    if cuda is None and pinned is not None:
        click.echo(f"note: the resolution pins CUDA {pinned} builds (torch's CUDA wheels); the header says "
                   f"cuda={pinned}. On a CPU-only target lock torch from the CPU index (torch==X+cpu)", err=True)
    argv = ["envdoctor", "lock", str(in_file), "-o", str(output), *(f"--exclude={e}" for e in exclude)]
    argv += [*(["--python-version", python_version] if python_version else []),
             *(["--platform", platform] if platform else []), *(["--cuda", cuda] if cuda else []),
             *(["--generate-hashes"] if generate_hashes else [])]
    header = LockHeader(python=target.python, platform=target.platform, cuda=cuda or pinned,
                        source=os.path.relpath(in_file, output.parent), digest=input_digest(in_file, meaningful=True),
                        made_with=resolved.made_with, command=shlex.join(argv),
                        kb_constraints=", ".join(f.describe() for f in result.used),
                        excluded=", ".join(exclude))
    _write_checked(output, header, lock_text(header, resolved, generate_hashes), offline)
    click.echo(f"wrote {output} ({len(resolved.pins)} pins; {resolved.made_with})")
    if result.used:
        click.echo(f"knowledge-base floors applied: {header.kb_constraints}")


def _write_checked(output: Path, header: LockHeader, text: str, offline: bool) -> None:
    """Write ``text`` beside ``output``, check it with every rule, and move it into place only if it passes."""
    tmp = output.with_name(output.name + ".new")
    tmp.write_text(text, encoding="utf-8")
    try:
        checked = check_lock(tmp, header, offline)
        if report.exit_code(checked.findings) != 0:
            click.echo(render(checked, "text", strict=False))
            click.echo(f"{output}: not written; the lock breaks the rules above")
            sys.exit(1)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _write_from_record(record: Path, output: Path, offline: bool) -> None:
    """`envdoctor lock --from RECORD -o FILE`."""
    recorded = load_record(record)
    if sys.stderr.isatty():
        click.echo(f"… hashing the {len(recorded.snapshot.distributions)} pins of {record}", err=True)
    made = lock_record(recorded, output)
    _write_checked(output, made.header, lock_text(made.header, made.resolved, True), offline)
    click.echo(f"wrote {output} ({len(made.resolved.pins)} pins with hashes for Python {recorded.python} "
               f"{recorded.platform}, cuda {recorded.cuda or 'none'}; from {record})")
    if made.left_out:
        click.echo("not locked (installed from a path or URL; install them the same way): "
                   + ", ".join(f"{n} @ {u}" for n, u in sorted(made.left_out.items())))
    click.echo(f"install it with `pip install --require-hashes --no-deps -r {output}`; "
               f"check it with `envdoctor lock verify {output}`")


@command.command("verify")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--input", "input_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              metavar="FILE", help="The requirements the lock was made from (one lock without an envdoctor header).")
@click.option("--offline", is_flag=True, help="Use the knowledge base and metadata cache only; fetch nothing.")
@click.option("--budget", "budget_s", type=click.FloatRange(min=0), default=VERIFY_BUDGET_S, show_default=True,
              metavar="SECONDS", help="Time per lock for running the cross-package check again until it is "
              "complete (0: one run, as `check` does).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify(paths: tuple[Path, ...], input_file: Path | None, offline: bool, budget_s: float, fmt: str) -> None:
    """Check lock files (default: lockfiles/): pinned, hashed, current with their input, and passing every rule.

    Any pinned requirements file works (pip-compile, uv pip compile, pip freeze); it is called stale only
    where its input is known: an envdoctor header, a pip-compile/uv header, a sibling .in, or --input.
    The cross-package check runs again (from its cache) until it is complete, so that the verdict
    does not depend on how far one run got; --budget bounds that time.

    Exit codes: 0 all pass, 1 findings, 2 bad input.
    """
    files = lock_files(paths or (Path("lockfiles"),))
    if input_file is not None and len(files) != 1:
        raise click.UsageError("--input names the input of one lock; pass exactly one lock file with it")
    worst = 0
    documents = []
    for path in files:
        header = read_header(path) or foreign_header(path, input_file)
        result = check_lock(path, header, offline, budget_s)
        code = report.exit_code(result.findings)
        worst = max(worst, code)
        if fmt == "json":
            documents.append({"lock": str(path), "exit_code": code,
                              "findings": [f.to_dict() for f in result.findings], "notes": result.notes})
        else:
            click.echo(render(result, "text", strict=False))
    if fmt == "json":
        click.echo(json.dumps(documents, indent=2))
    sys.exit(worst)
