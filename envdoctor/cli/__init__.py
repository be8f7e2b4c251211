"""The command line: every click command and the one map from exceptions to exit codes."""
