"""After execution: downloading the extract (a ZIP of the signed manifest, the public key
and the files), limited in number and time, and deleting its files on schedule."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

from sqlalchemy.orm import Session

from consent_service.audit.recorder import Actor
from consent_service.clock import legal_today
from consent_service.crypto import open_sealed
from consent_service.errors import RuleRefusal
from consent_service.extracts import repository, rules
from consent_service.extracts.execution import chunk_aad, extract_keys
from consent_service.extracts.models import ExtractFile, ExtractRequest
from consent_service.extracts.policy import default_extract_policy
from consent_service.extracts.requests import lock, record_event
from consent_service.retention.schedule import default_schedule
from consent_service.services import ServiceDeps


def _file_bytes(
    session: Session, key: bytes, req: ExtractRequest, f: ExtractFile
) -> Iterator[bytes]:
    chunks = repository.chunks_of(session, f.id)
    for chunk in chunks:
        last = chunk.seq == len(chunks) - 1
        yield open_sealed(
            key, chunk.content_sealed, chunk_aad(req.public_id, f.name, chunk.seq, last)
        )


def download(session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest) -> bytes:
    """The extract as a ZIP: the signed manifest, the public key and the files. Only the
    requester and the approver, a limited number of times, within a limited period."""
    lock(session, req)  # two downloads at once count one after the other
    if req.status != "executed" or req.manifest is None:
        raise RuleRefusal("Udtrækket er ikke udført.")
    if not rules.handles(req, actor.user_id):
        raise RuleRefusal("Kun den, der anmodede, og den, der godkendte, kan hente udtrækket.")
    limits = default_extract_policy().downloads
    if req.download_until is None or deps.clock.now() > req.download_until:
        raise RuleRefusal(
            "Perioden for at hente udtrækket er udløbet. Intet er hentet; lav en ny anmodning, "
            "hvis registerholderen skal have listen igen."
        )
    if req.downloads >= limits.max_count:
        raise RuleRefusal(
            f"Udtrækket er allerede hentet {limits.max_count} gange, så mange som "
            "udtrækspolitikken tillader. Intet er hentet."
        )
    file_key, _ = extract_keys(deps, req)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        signed = {"manifest": json.loads(req.manifest), "signature": req.manifest_signature}
        zf.writestr("manifest.json", json.dumps(signed, ensure_ascii=False, indent=2))
        zf.writestr("public_key.pem", deps.crypto.public_key_pem())
        for f in repository.files_of(session, req.id):
            with zf.open(f.name, "w") as fh:
                for part in _file_bytes(session, file_key, req, f):
                    fh.write(part)
    req.downloads += 1
    record_event(
        session, deps, actor, req, action="extract.downloaded", details={"download": req.downloads}
    )
    return out.getvalue()


def delete_files(session: Session, deps: ServiceDeps, actor: Actor, req: ExtractRequest) -> int:
    """Destroy the extract's key, then its files; the signed manifest stays."""
    req.key_wrapped = None
    files = repository.delete_files(session, req.id)
    req.files_deleted_at = deps.clock.now()
    record_event(session, deps, actor, req, action="extract.files_deleted",
                 details={"rule": "extract_files", "files": files})  # fmt: skip
    return files


def purge_expired_files(session: Session, deps: ServiceDeps, actor: Actor) -> int:
    """Delete the files of extracts executed longer ago than the schedule allows."""
    keep = default_schedule().categories["extract_files"].keep
    today = legal_today(deps.clock)
    count = 0
    for req in repository.executed_with_files(session):
        if req.executed_on is not None and keep.after(req.executed_on) <= today:
            delete_files(session, deps, actor, req)
            count += 1
    return count
