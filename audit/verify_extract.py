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

The checks themselves (``signed_manifest``, ``check_signature``, ``check_file``) take bytes,
not an archive, and say what failed with a short code beside the English message, so the
service's verification page (``consent_service/extracts/verification.py``) runs this very
file's code on an uploaded manifest and files and words the outcome in Danish.
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
    """A check failed: ``code`` says which (for a caller that words it itself), the
    message says it in English."""

    def __init__(self, message: str, code: str = "failed") -> None:
        super().__init__(message)
        self.code = code


def signed_manifest(raw: bytes) -> tuple[dict[str, Any], str]:
    """(manifest, signature) from the bytes of ``manifest.json``; ``Failed`` with code
    ``not_json`` or ``not_manifest`` if they are not one."""
    try:
        signed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise Failed("manifest.json is not JSON (UTF-8)", "not_json") from None
    manifest = signed.get("manifest") if isinstance(signed, dict) else None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Failed(f"not a {FORMAT} manifest", "not_manifest")
    return manifest, str(signed.get("signature", ""))


def check_signature(manifest: dict[str, Any], signature: str, key: Ed25519PublicKey) -> None:
    """``Failed`` (code ``bad_signature``) unless ``key`` signed the manifest."""
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        key.verify(base64.b64decode(signature), PREFIX + body.encode())
    except (InvalidSignature, ValueError):
        raise Failed(
            "the manifest's signature does not verify (manifest altered?)", "bad_signature"
        ) from None


def listed_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The files the manifest names, by name."""
    files = manifest.get("files", [])
    if not isinstance(files, list):
        return {}
    return {str(f["name"]): f for f in files if isinstance(f, dict) and "name" in f}


def check_file(name: str, entry: dict[str, Any], data: bytes) -> None:
    """``Failed`` (code ``content`` or ``rows``) unless ``data`` is the file the manifest's
    ``entry`` describes: its SHA-256, byte count and row count."""
    if hashlib.sha256(data).hexdigest() != entry.get("sha256") or len(data) != entry.get("bytes"):
        raise Failed(f"{name}: content does not match the manifest (altered)", "content")
    if data.count(b"\n") - 1 != entry.get("rows"):
        raise Failed(f"{name}: row count does not match the manifest", "rows")


def key_id(key: Ed25519PublicKey) -> str:
    """The key id the service shows: the SHA-256 of the raw public key."""
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


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
        manifest, signature = signed_manifest(zf.read("manifest.json"))
        key = trusted or _key(zf.read("public_key.pem"))
        check_signature(manifest, signature, key)
        listed = listed_files(manifest)
        extra = names - NOT_DATA - set(listed)
        if extra:
            raise Failed(f"files not in the manifest: {', '.join(sorted(extra))}")
        for name, f in listed.items():
            if name not in names:
                raise Failed(f"{name} is missing")
            check_file(name, f, zf.read(name))
    kid = key_id(key)
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
