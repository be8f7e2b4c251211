"""`python -m envdoctor` runs the CLI."""

from envdoctor.cli.app import main

main()
