"""``consent-service witness ...``: run a witness, and print the log's key for one.

- ``witness init --state DIR --name NAME [--origin ORIGIN --log VKEY]``: create the
  witness's key in DIR (once; never overwritten) and add a log to witness (origin and
  the log's verifier key); run again with the same name to add more logs. Prints the
  witness's verifier key, to configure on the log's side.
- ``witness serve --state DIR [--host 127.0.0.1] [--port 8471]``: serve add-checkpoint.
- ``witness latest --state DIR --origin ORIGIN``: print the latest cosigned checkpoint.
- ``witness log-key --origin ORIGIN``: print the service's checkpoint key as a note
  verifier key named ORIGIN (reads the service's settings; run it on the service's host).

The witness commands other than ``log-key`` read nothing of the service's configuration or
database: a witness runs elsewhere, under someone else's control.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_service.config import load_settings
from consent_service.witness.note import NoteError, make_verifier
from consent_service.witness.server import bind, server
from consent_service.witness.service import Witness
from consent_service.witness.store import KEY_FILE, StateError, WitnessStore, create_key, load_key

EXIT_STATE = 2
DEFAULT_PORT = 8471


def cmd_init(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if (args.origin is None) != (args.log is None):
        sys.stderr.write("witness init: give --origin and --log together\n")
        return EXIT_STATE
    try:
        if (state / KEY_FILE).exists():
            key = load_key(state)
            if key.name != args.name:
                raise StateError(f"this state folder's witness is named {key.name}")
            sys.stdout.write(f"kept the existing witness key in {KEY_FILE}\n")
        else:
            key = create_key(state, args.name)
            sys.stdout.write(f"wrote a new witness key to {KEY_FILE} (mode 600)\n")
        store = WitnessStore(state)
        try:
            if args.origin is not None:
                added = store.add_log(args.origin, args.log, int(time.time()))
                verb = "now witnesses" if added else "already witnessed"
                sys.stdout.write(f"{verb} {args.origin}\n")
        finally:
            store.close()
    except StateError as exc:
        sys.stderr.write(f"witness init: {exc}\n")
        return EXIT_STATE
    sys.stdout.write(key.verifier.vkey + "\n")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        witness = Witness.open(Path(args.state))
    except StateError as exc:
        sys.stderr.write(f"witness serve: {exc}\n")
        return EXIT_STATE
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    sys.stdout.write(f"witness {witness.vkey} listening on {host}:{port}\n")
    sys.stdout.flush()
    try:
        server(witness, host=args.host, port=port).run(sockets=[sock])
    finally:
        witness.store.close()
    return 0


def cmd_latest(args: argparse.Namespace) -> int:
    try:
        witness = Witness.open(Path(args.state))
    except StateError as exc:
        sys.stderr.write(f"witness latest: {exc}\n")
        return EXIT_STATE
    try:
        note = witness.latest_note(hashlib.sha256(args.origin.encode()).hexdigest())
    finally:
        witness.store.close()
    if note is None:
        sys.stderr.write("witness latest: no cosigned checkpoint for this origin\n")
        return 1
    sys.stdout.write(note)
    return 0


def cmd_log_key(args: argparse.Namespace) -> int:
    keys = load_settings().keys
    public = Ed25519PrivateKey.from_private_bytes(keys.signing).public_key()
    try:
        sys.stdout.write(make_verifier(args.origin, public).vkey + "\n")
    except NoteError as exc:
        sys.stderr.write(f"witness log-key: {exc}\n")
        return EXIT_STATE
    return 0


def add_witness_commands(sub: Any) -> None:
    """Register ``witness ...`` on the top-level subparsers of ``consent-service``."""
    witness = sub.add_parser("witness", help="run a checkpoint witness (C2SP tlog-witness)")
    witness_sub = witness.add_subparsers(dest="witness_command", required=True)
    i = witness_sub.add_parser("init", help="create the witness key; add a log to witness")
    i.add_argument("--state", required=True, help="the witness's own folder")
    i.add_argument("--name", required=True, help="the witness's key name, e.g. host/witness")
    i.add_argument("--origin", help="the log's checkpoint origin")
    i.add_argument("--log", help="the log's verifier key (consent-service witness log-key)")
    i.set_defaults(func=cmd_init)
    s = witness_sub.add_parser("serve", help="serve POST /add-checkpoint")
    s.add_argument("--state", required=True, help="the witness's own folder")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.set_defaults(func=cmd_serve)
    latest = witness_sub.add_parser("latest", help="print the latest cosigned checkpoint")
    latest.add_argument("--state", required=True)
    latest.add_argument("--origin", required=True)
    latest.set_defaults(func=cmd_latest)
    k = witness_sub.add_parser("log-key", help="print this service's checkpoint verifier key")
    k.add_argument("--origin", required=True, help="the log's checkpoint origin (key name)")
    k.set_defaults(func=cmd_log_key)
