"""Witnesses of the audit log's checkpoints, outside the database's trust domain.

- ``note``: C2SP signed notes, checkpoints and cosignature/v1 (Ed25519).
- ``consistency``: ``extends()``, the chain v2 consistency check (digests as the proof).
- ``protocol``: the tlog-witness add-checkpoint request body.
- ``store``, ``service``, ``server``: the stand-alone witness (``consent-service witness``).
- ``client``: ``submit()``, the log's side of add-checkpoint.

The witness modules import nothing of the service's database, models or settings, so a
witness can run on another host under another operator.
"""
