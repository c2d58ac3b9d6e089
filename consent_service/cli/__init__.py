"""The `consent-service` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from consent_service.access.policy import PolicyError
from consent_service.cli.audit import add_audit_commands
from consent_service.cli.backup import add_backup_commands
from consent_service.cli.erasure import add_erasure_commands
from consent_service.cli.jobs import add_job_commands
from consent_service.cli.retention import add_retention_commands
from consent_service.cli.rules import add_rules_commands
from consent_service.cli.run import add_run_command
from consent_service.cli.serve import add_serve_command
from consent_service.cli.setup import add_setup_commands
from consent_service.config import ConfigError
from consent_service.identity.cli import add_user_commands
from consent_service.logging import configure_logging
from consent_service.startup import StartupError
from consent_service.witness.cli import add_witness_commands

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command, in the order ``--help`` lists them."""
    parser = argparse.ArgumentParser(prog="consent-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_command(sub)
    add_serve_command(sub)
    add_setup_commands(sub)
    add_audit_commands(sub)
    add_backup_commands(sub)
    add_job_commands(sub)
    add_retention_commands(sub)
    add_rules_commands(sub)
    add_erasure_commands(sub)
    add_witness_commands(sub)
    add_user_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sub-command `argv` names; its exit code (2 for a configuration error)."""
    args = build_parser().parse_args(argv)
    # JSON logs to stderr; what a command has to say to its user goes to stdout.
    configure_logging(os.environ.get("CONSENT_LOG_LEVEL", "WARNING").upper())
    try:
        code: int = args.func(args)
    except (ConfigError, StartupError, PolicyError) as exc:
        print(f"consent-service: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return code
