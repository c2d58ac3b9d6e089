"""``consent-service rules verify``: run the Danish scenarios of ``features/`` against the
installed service (pytest and pytest-bdd, the test extras, on a scratch SQLite database)
and record each one's outcome in the service's database for the Regelsamling."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consent_service.cli.common import checked_context, cli_actor
from consent_service.rulebook import book, tasks, verify

EXIT_FAILED = 1  # a scenario failed
EXIT_CANNOT_RUN = 2  # the scenarios could not run; nothing recorded


def feature_path(text: str) -> str:
    """A feature named on the command line as a path from the rules root
    (``features/cpr.feature``); a bare file name is taken to be in ``features/``."""
    name = text.strip().replace("\\", "/").removeprefix("./")
    if "/" not in name:
        name = f"{book.FEATURES_DIR}/{name}"
    return name


def cmd_rules_verify(args: argparse.Namespace) -> int:
    """Run and record the scenarios; exit 1 if any failed, 2 if they could not run."""
    ctx = checked_context()
    root = ctx.settings.rules_root
    features = [feature_path(f) for f in args.feature]
    missing = next((f for f in features if not (root / f).is_file()), None)
    if missing is not None:
        print(f"consent-service: no feature file {missing} under {root}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        result = tasks.verify_and_record(ctx.sessions, ctx.deps, cli_actor(), root, features)
    except verify.VerifyUnavailable as exc:
        print(f"consent-service: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    finally:
        ctx.engine.dispose()
    for o in result.outcomes:
        if o.outcome == "failed":
            print(f"FAILED {o.feature}: {o.scenario}")
    print(
        f"rules verify {result.run_id}: {result.passed} scenarios passed, "
        f"{result.failed} failed; recorded for the Regelsamling"
    )
    return EXIT_FAILED if result.failed else 0


def add_rules_commands(sub: Any) -> None:
    """Register ``rules ...`` on the top-level subparsers."""
    rules = sub.add_parser("rules", help="the rulebook (Regelsamling) and its scenarios")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rv = rules_sub.add_parser(
        "verify",
        help="run the Danish scenarios against the installed service and record the outcomes",
    )
    rv.add_argument(
        "--feature",
        action="append",
        default=[],
        help="only this feature file (e.g. features/cpr.feature); repeatable",
    )
    rv.set_defaults(func=cmd_rules_verify)
