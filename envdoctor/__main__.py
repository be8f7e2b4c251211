"""`python -m envdoctor` runs the CLI."""

from envdoctor.cli import main

main()
