#!/usr/bin/env python3
"""Verify a downloaded consent-service extract (the ZIP), outside the service.

    python audit/verify_extract.py udtraek-<id>.zip [--public-key KEY.pem]

Needs only the Python standard library and ``cryptography``; imports nothing from the
service. It checks that ``manifest.json`` is signed by the key (the Ed25519 signature over
``b"consent-service extract manifest v1\\n"`` + the manifest as compact JSON with sorted keys,
UTF-8), and that every file the manifest names is in the archive with the SHA-256, byte
count and row count the manifest states, and that the archive holds no other data file.
Without --public-key the key inside the archive is used and the output says to compare its
key id with the one the DPO publishes.

Prints ``OK: ...`` and exits 0, or ``FAIL: ...`` and exits 1; exits 2 if the archive or the
key cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

PREFIX = b"consent-service extract manifest v1\n"
FORMAT = "consent-service-extract-manifest/1"
NOT_DATA = {"manifest.json", "public_key.pem"}


class Failed(Exception):
    pass


def _key(pem: bytes) -> Ed25519PublicKey:
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify(archive: Path, trusted: Ed25519PublicKey | None) -> str:
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        if "manifest.json" not in names:
            raise Failed("manifest.json is missing")
        signed: dict[str, Any] = json.loads(zf.read("manifest.json"))
        manifest = signed.get("manifest")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise Failed(f"not a {FORMAT} manifest")
        key = trusted or _key(zf.read("public_key.pem"))
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            key.verify(base64.b64decode(str(signed.get("signature", ""))), PREFIX + body.encode())
        except (InvalidSignature, ValueError):
            raise Failed("the manifest's signature does not verify (manifest altered?)") from None
        listed = {f["name"]: f for f in manifest.get("files", [])}
        extra = names - NOT_DATA - set(listed)
        if extra:
            raise Failed(f"files not in the manifest: {', '.join(sorted(extra))}")
        for name, f in listed.items():
            if name not in names:
                raise Failed(f"{name} is missing")
            data = zf.read(name)
            if hashlib.sha256(data).hexdigest() != f["sha256"] or len(data) != f["bytes"]:
                raise Failed(f"{name}: content does not match the manifest (altered)")
            if data.count(b"\n") - 1 != f["rows"]:
                raise Failed(f"{name}: row count does not match the manifest")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = hashlib.sha256(raw).hexdigest()
    note = "" if trusted else "; compare the key id with the one the DPO publishes"
    return (
        f"OK: extract {manifest['request']} ({manifest['measurement']}), "
        f"{manifest['included']} citizens, {len(listed)} files, key {kid}{note}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--public-key", type=Path)
    args = parser.parse_args(argv)
    try:
        trusted = _key(args.public_key.read_bytes()) if args.public_key else None
        print(verify(args.archive, trusted))
    except Failed as exc:
        print(f"FAIL: {exc}")
        return 1
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
