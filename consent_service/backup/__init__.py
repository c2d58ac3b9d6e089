"""Encrypted backup and restore of the database, on SQLite and PostgreSQL.

A backup is two files. The data file holds the whole database except the rows of
``citizen_key``: the citizens' data keys never enter it, so deleting a citizen (which
destroys their key rows) makes them unreadable in every older data backup too
(crypto-shredding). The keys file holds the ``citizen_key`` rows, still wrapped by the
master key; it is meant to be kept only briefly, for less time than the deletion deadline.

Both files are sealed with AES-256-GCM under keys derived from the master key, one per
kind. The keys file also carries the deletion ledger: every deletion the database had
made when the backup was taken (citizens by public id, wellbeing answers by consent, with
rule and time; no personal data). Restoring an older data file with a newer keys file
applies again, with the same code, every deletion of that ledger the data file does not
have yet, so an older backup never brings back a deleted citizen's row or CPR blind index.

A file is a one-line header (magic, version, kind, engine) followed by the sealed
bytes; the header is the associated data, so a keys file cannot be restored as data, nor a
SQLite backup into PostgreSQL, and any edit is detected. Files are written with mode 600.

A restore goes only into an empty database, then checks the schema is at the migration
head and the audit log verifies (its chain, signed checkpoints and start; the service's
public key is needed for that). On PostgreSQL the backup is taken as the
application login (it may read every table) and restored as the owner of the new
database, without the dump's grants: ``consent-service restore`` then grants the
application login what ``migrate`` would (``migrations.privileges``). Nothing here logs
or prints key material or any personal data.

The package, by job: ``files`` (the format), ``engines`` (URLs and tools), ``sqlite`` and
``postgresql`` (dump and restore per engine), ``keys_file`` (key rows and the deletion
ledger), ``repository`` (its queries), ``create`` and ``restore`` (the two commands).
"""

from consent_service.backup.create import BackupFiles, create_backup
from consent_service.backup.files import UNDECRYPTABLE, BackupError, sha256_of
from consent_service.backup.restore import RestoreReport, restore_backup

__all__ = [
    "UNDECRYPTABLE",
    "BackupError",
    "BackupFiles",
    "RestoreReport",
    "create_backup",
    "restore_backup",
    "sha256_of",
]
