"""Checking a downloaded extract in the service: is the manifest signed with the service's
key, and does each uploaded file match the SHA-256 the manifest states?

The checks are those of the stand-alone program ``audit/verify_extract.py`` (which the
register holder runs with only Python and ``cryptography``): this module loads that very
file, as the service reads its rule files from the repository, so the page and the
program cannot drift apart. Here the outcome is worded in Danish; nothing is stored.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from consent_service.errors import InvalidInput

VERIFY_EXTRACT_FILE = Path(__file__).resolve().parents[2] / "audit" / "verify_extract.py"
MAX_MANIFEST_BYTES = 256 * 1024
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_FILES = 10

# What an uploaded file's check found, in Danish for the page.
FILE_OUTCOMES = {
    "match": "Stemmer: filens SHA-256, antal bytes og rækker er som i manifestet.",
    "content": "Stemmer ikke: filens indhold er ændret eller er en anden fil.",
    "rows": "Stemmer ikke: antallet af rækker er ikke som i manifestet.",
    "not_listed": "Filen står ikke i manifestet.",
    "not_uploaded": "Ikke kontrolleret: filen blev ikke uploadet.",
    "unsigned": "Ikke kontrolleret: manifestets signatur er ikke tjenestens.",
}


@cache
def _program() -> ModuleType:
    """The stand-alone program's module, loaded from its file once."""
    spec = importlib.util.spec_from_file_location("verify_extract", VERIFY_EXTRACT_FILE)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the code
        raise RuntimeError(f"cannot load {VERIFY_EXTRACT_FILE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class FileCheck:
    name: str
    outcome: str  # a key of FILE_OUTCOMES

    @property
    def ok(self) -> bool:
        return self.outcome == "match"

    @property
    def text(self) -> str:
        return FILE_OUTCOMES[self.outcome]


@dataclass(frozen=True)
class Verification:
    signature_ok: bool
    key_id: str  # the service's key id
    manifest_key_id: str  # the key id the manifest names
    request: str
    measurement: str
    executed_on: str
    included: int | None
    files: list[FileCheck]

    @property
    def executed_on_da(self) -> str:
        """The execution day as a Danish date (dd-mm-åååå), or "" if the manifest has none."""
        try:
            return date.fromisoformat(self.executed_on).strftime("%d-%m-%Y")
        except ValueError:
            return ""

    @property
    def all_ok(self) -> bool:
        return self.signature_ok and bool(self.files) and all(f.ok for f in self.files)


def _text(manifest: dict[str, Any], key: str) -> str:
    value = manifest.get(key)
    return value if isinstance(value, str) else ""


def verify_upload(
    public_key_pem: str, manifest_raw: bytes, files: dict[str, bytes]
) -> Verification:
    """Check ``manifest_raw`` (the ``manifest.json`` of a downloaded extract) against the
    service's public key, and each of ``files`` (by name) against the manifest; raises
    ``InvalidInput`` (Danish, field ``manifest``) for bytes that are no manifest."""
    program = _program()
    if len(manifest_raw) > MAX_MANIFEST_BYTES:
        raise InvalidInput("Filen er for stor til at være et manifest.", field="manifest")
    try:
        manifest, signature = program.signed_manifest(manifest_raw)
    except program.Failed as failed:
        message = (
            "Filen er ikke JSON (UTF-8). Vælg manifest.json fra den hentede ZIP-fil."
            if failed.code == "not_json"
            else "Filen er ikke et manifest fra samtykkeservicen. Vælg manifest.json fra den "
            "hentede ZIP-fil."
        )
        raise InvalidInput(message, field="manifest") from None
    key = program._key(public_key_pem.encode())
    try:
        program.check_signature(manifest, signature, key)
        signature_ok = True
    except program.Failed:
        signature_ok = False
    listed: dict[str, dict[str, Any]] = program.listed_files(manifest)
    checks: list[FileCheck] = []
    for name, entry in listed.items():
        if not signature_ok:
            checks.append(FileCheck(name, "unsigned"))
        elif name not in files:
            checks.append(FileCheck(name, "not_uploaded"))
        else:
            try:
                program.check_file(name, entry, files[name])
                checks.append(FileCheck(name, "match"))
            except program.Failed as failed:
                checks.append(FileCheck(name, failed.code))
    checks += [FileCheck(name, "not_listed") for name in sorted(set(files) - set(listed))]
    included = manifest.get("included")
    return Verification(
        signature_ok=signature_ok,
        key_id=program.key_id(key),
        manifest_key_id=_text(manifest, "key_id"),
        request=_text(manifest, "request"),
        measurement=_text(manifest, "measurement"),
        executed_on=_text(manifest, "executed_on"),
        included=included if isinstance(included, int) else None,
        files=checks,
    )


def service_key_id(public_key_pem: str) -> str:
    """The key id of the service's public key, as manifests and the page name it."""
    return str(_program().key_id(load_pem_public_key(public_key_pem.encode())))
