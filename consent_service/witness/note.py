"""C2SP signed notes, checkpoints and cosignatures, with Ed25519.

Formats (read the specifications, not this summary, when in doubt):

- c2sp.org/signed-note: a note is a text ending in a newline, a blank line, then one or
  more signature lines ``— <key name> <base64(key id || signature)>``. The key id is
  ``SHA-256(key name || "\\n" || type byte || public key)[:4]``. A verifier key (*vkey*) is
  ``<key name>+<hex key id>+<base64(type byte || public key)>``; a signer key is the same
  prefixed with ``PRIVATE+KEY+`` and holding the 32-byte Ed25519 seed (the form of Go's
  golang.org/x/mod/sumdb/note). Type ``0x01`` is a plain Ed25519 signature over the text.
- c2sp.org/tlog-checkpoint: the text is ``<origin>\\n<size>\\n<base64 root hash>\\n`` and
  optional non-empty extension lines.
- c2sp.org/tlog-cosignature (cosignature/v1): a witness signs, with key type ``0x04``,
  ``cosignature/v1\\ntime <POSIX seconds>\\n`` followed by the checkpoint text; the
  signature bytes are ``key id || u64 big-endian timestamp || Ed25519 signature``.

Deliberate deviation: the root hash of our checkpoints is not an RFC 6962 Merkle tree
root. Our audit log is a hash chain (chain v2): for event ``seq`` (1, 2, 3, ...),
``hash = SHA-256(previous hash || SHA-256(canonical event))``, the first event's previous
hash being 32 zero bytes. A checkpoint's "root hash" is the chain head hash at ``size``
events, and the empty log's is 32 zero bytes (not SHA-256 of the empty string). The
consistency proof changes accordingly (``consent_service.witness.consistency``). Everything
else (note syntax, key ids, vkeys, cosignature message) is the published format, so
standard note tools can read and verify these notes and their cosignatures.

Parsing treats its input as hostile: a note larger than ``MAX_NOTE_BYTES``, not UTF-8,
with a control character other than newline, without the blank line before the
signatures, with a malformed signature line or with more than ``MAX_SIGNATURES``
signatures is refused with ``MalformedNote``. Signatures from unknown keys are ignored
(kept as unverified), as the specification requires; a known key's bad signature makes
the whole note invalid.

Longer than 450 lines because it is one implementation of three specifications that
build on one another (a checkpoint is a signed note, a cosignature signs a checkpoint) and
share the key and hostile-input checks; its callers (the witness, the audit log's
checkpoints, the tests) use it as one namespace, and split by specification the parts
would import each other's internals.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "— "
COSIGNATURE_HEADER = b"cosignature/v1\n"
HASH_SIZE = 32
MAX_NOTE_BYTES = 16 * 1024
MAX_SIGNATURES = 64
MAX_LINE_BYTES = 1024
MAX_SIZE = 2**63 - 1

_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,18})")
_HEX_ID = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, key or checkpoint could not be accepted; the message says why."""


class MalformedNote(NoteError):
    """The bytes are not a well-formed signed note (or checkpoint)."""


class InvalidNoteSignature(NoteError):
    """A signature from a known key does not verify: the whole note is rejected."""


class UnverifiedNote(NoteError):
    """The note is well formed but carries no signature from a known key."""


def is_valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space, no ``+`` (signed-note, "Format")."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, alg: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || alg || public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise MalformedNote(f"{what} is not valid base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Verifier:
    """A known public key: key name, key id, type (0x01 note signature or 0x04
    cosignature/v1) and the raw 32-byte Ed25519 public key."""

    name: str
    key_id: int
    alg: int
    public_key: bytes

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([self.alg]) + self.public_key)}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Check ``signature`` (without the 4-byte key id) over the note ``text``."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        if self.alg == ALG_ED25519:
            message = text
            sig = signature
        elif self.alg == ALG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp > MAX_SIZE:
                return False
            message = cosignature_message(text, timestamp)
            sig = signature[8:]
        else:  # pragma: no cover - parse_vkey admits no other type
            return False
        if len(sig) != 64:
            return False
        try:
            key.verify(sig, message)
        except InvalidSignature:
            return False
        return True


def make_verifier(name: str, public_key: Ed25519PublicKey, alg: int = ALG_ED25519) -> Verifier:
    if not is_valid_key_name(name):
        raise NoteError("key name must be non-empty, without spaces or '+'")
    if alg not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise NoteError("unsupported key type")
    raw = raw_public_key(public_key)
    return Verifier(name=name, key_id=key_id(name, alg, raw), alg=alg, public_key=raw)


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``<name>+<hex key id>+<base64(type || public key)>``; the key id must match."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or len(vkey) > MAX_LINE_BYTES:
        raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
    name, hex_id, key_b64 = parts
    if not is_valid_key_name(name) or not _HEX_ID.fullmatch(hex_id):
        raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
    try:
        material = _b64decode(key_b64, "verifier key")
    except MalformedNote as exc:
        raise NoteError(str(exc)) from None
    if len(material) != 1 + 32 or material[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise NoteError("verifier key is not an Ed25519 (0x01) or cosignature/v1 (0x04) key")
    alg, raw = material[0], material[1:]
    if key_id(name, alg, raw) != int(hex_id, 16):
        raise NoteError("verifier key id does not match its name and key")
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise NoteError("verifier key is not a valid Ed25519 public key") from None
    return Verifier(name=name, key_id=int(hex_id, 16), alg=alg, public_key=raw)


@dataclass(frozen=True)
class NoteSigner:
    """Signs notes as ``name``; ``sign`` is the raw Ed25519 signing function, so the
    service can pass its own key's ``Crypto.sign`` without handing over the key."""

    name: str
    alg: int
    public_key: bytes
    sign: Callable[[bytes], bytes]

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.alg, self.public_key)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.alg, self.public_key)


def signer_from_function(
    name: str, public_key: Ed25519PublicKey, sign: Callable[[bytes], bytes]
) -> NoteSigner:
    """A 0x01 note signer for a key held elsewhere (e.g. the service's signing key)."""
    if not is_valid_key_name(name):
        raise NoteError("key name must be non-empty, without spaces or '+'")
    return NoteSigner(name, ALG_ED25519, raw_public_key(public_key), sign)


def generate_signer_key(name: str, alg: int = ALG_ED25519) -> str:
    """A new signer key ``PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>``."""
    if not is_valid_key_name(name):
        raise NoteError("key name must be non-empty, without spaces or '+'")
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    kid = key_id(name, alg, raw_public_key(private.public_key()))
    return f"PRIVATE+KEY+{name}+{kid:08x}+{_b64(bytes([alg]) + seed)}"


def parse_signer_key(skey: str) -> NoteSigner:
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("a signer key is PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
    name, hex_id, key_b64 = parts[2:]
    if not is_valid_key_name(name) or not _HEX_ID.fullmatch(hex_id):
        raise NoteError("a signer key is PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
    try:
        material = _b64decode(key_b64, "signer key")
    except MalformedNote as exc:
        raise NoteError(str(exc)) from None
    if len(material) != 33 or material[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise NoteError("signer key is not an Ed25519 (0x01) or cosignature/v1 (0x04) key")
    private = Ed25519PrivateKey.from_private_bytes(material[1:])
    raw = raw_public_key(private.public_key())
    if key_id(name, material[0], raw) != int(hex_id, 16):
        raise NoteError("signer key id does not match its name and key")
    return NoteSigner(name, material[0], raw, private.sign)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    signature: bytes  # after the 4-byte key id

    @property
    def line(self) -> str:
        raw = struct.pack(">I", self.key_id) + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(raw)}\n"


@dataclass(frozen=True)
class Note:
    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


@dataclass(frozen=True)
class _Parsed:
    text: str
    signatures: tuple[Signature, ...]


def _check_bytes(msg: bytes, limit: int) -> str:
    if len(msg) > limit:
        raise MalformedNote(f"note is larger than {limit} bytes")
    try:
        text = msg.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNote("note is not valid UTF-8") from None
    if any(ch < " " and ch != "\n" for ch in text):
        raise MalformedNote("note contains a control character other than newline")
    return text


def parse_signature_line(line: str) -> Signature:
    """One ``— <name> <base64>`` line, without its newline."""
    if len(line.encode()) > MAX_LINE_BYTES:
        raise MalformedNote("signature line is too long")
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("signature line does not start with an em dash and a space")
    name, sep, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep or not is_valid_key_name(name) or not b64:
        raise MalformedNote("signature line is not '— <key name> <base64>'")
    raw = _b64decode(b64, "signature")
    if len(raw) < 5:
        raise MalformedNote("signature is too short")
    (kid,) = struct.unpack(">I", raw[:4])
    return Signature(name=name, key_id=int(kid), signature=raw[4:])


def _split(msg: bytes, limit: int = MAX_NOTE_BYTES) -> _Parsed:
    whole = _check_bytes(msg, limit)
    split = whole.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    text, sigs = whole[: split + 1], whole[split + 2 :]
    if not sigs or not sigs.endswith("\n"):
        raise MalformedNote("note has no signature lines, or they do not end in a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has more than {MAX_SIGNATURES} signatures")
    return _Parsed(text, tuple(parse_signature_line(line) for line in lines))


def open_note(msg: bytes, known: Iterable[Verifier], *, limit: int = MAX_NOTE_BYTES) -> Note:
    """Parse ``msg`` and verify its signatures against ``known`` (signed-note, "Signatures").

    Unknown keys (name and id not both matching a known key) are ignored; a known key's
    failing signature raises ``InvalidNoteSignature``; no verified signature at all raises
    ``UnverifiedNote``; malformed input raises ``MalformedNote``."""
    by_id: dict[tuple[str, int], Verifier] = {}
    for v in known:
        if (v.name, v.key_id) in by_id and by_id[(v.name, v.key_id)] != v:
            raise NoteError(f"ambiguous key {v.name}+{v.key_id:08x}")
        by_id[(v.name, v.key_id)] = v
    parsed = _split(msg, limit)
    text = parsed.text.encode("utf-8")
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for sig in parsed.signatures:
        verifier = by_id.get((sig.name, sig.key_id))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if not verifier.verify(text, sig.signature):
            raise InvalidNoteSignature(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        if all((s.name, s.key_id) != (sig.name, sig.key_id) for s in verified):
            verified.append(sig)
    if not verified:
        raise UnverifiedNote("note has no signature from a known key")
    return Note(parsed.text, tuple(verified), tuple(unverified))


def sign_note(text: str, *signers: NoteSigner) -> str:
    """The signed note: ``text``, a blank line, one 0x01 signature line per signer."""
    if not text.endswith("\n"):
        raise MalformedNote("note text must end in a newline")
    _check_bytes(text.encode("utf-8"), MAX_NOTE_BYTES)
    lines = []
    for signer in signers:
        if signer.alg != ALG_ED25519:
            raise NoteError("use cosign() for a cosignature/v1 key")
        sig = signer.sign(text.encode("utf-8"))
        lines.append(Signature(signer.name, signer.key_id, sig).line)
    return text + "\n" + "".join(lines)


# --- checkpoints (c2sp.org/tlog-checkpoint) ---


@dataclass(frozen=True)
class Checkpoint:
    """``origin``, ``size`` (number of events) and ``root_hash``: here the 32-byte chain
    head hash after ``size`` events (see the module docstring for this deviation)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint body of a note's text (without signatures)."""
    if not text.endswith("\n"):
        raise MalformedNote("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedNote("checkpoint needs an origin, a size and a root hash line")
    origin, size_text, hash_text, *extensions = lines
    if not origin or len(origin.encode()) > MAX_LINE_BYTES:
        raise MalformedNote("checkpoint origin is empty or too long")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_SIZE:
        raise MalformedNote("checkpoint size is not a decimal without leading zeros")
    root = _b64decode(hash_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise MalformedNote("checkpoint root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise MalformedNote("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def checkpoint_origin(msg: bytes) -> str:
    """The origin of a signed checkpoint note, before any signature is checked (to pick
    the keys to check it with). Raises ``MalformedNote``."""
    return parse_checkpoint(_split(msg).text).origin


def open_checkpoint(msg: bytes, log_keys: Iterable[Verifier]) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint note with the log's key(s) and parse its body."""
    note = open_note(msg, log_keys)
    return parse_checkpoint(note.text), note


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a note signed by the log (refuses a checkpoint whose text would
    not parse back to itself, e.g. an origin with a newline)."""
    if len(checkpoint.root_hash) != HASH_SIZE or parse_checkpoint(checkpoint.text) != checkpoint:
        raise MalformedNote("checkpoint does not format to a valid checkpoint body")
    return sign_note(checkpoint.text, signer)


# --- cosignatures (c2sp.org/tlog-cosignature, cosignature/v1) ---


def cosignature_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    return COSIGNATURE_HEADER + f"time {timestamp}\n".encode() + checkpoint_text


@dataclass(frozen=True)
class Cosignature:
    """A witness's cosignature/v1 on a checkpoint: who, when (POSIX seconds), and the
    signature line to append to the checkpoint note."""

    name: str
    key_id: int
    timestamp: int
    signature: bytes  # the 64-byte Ed25519 signature

    @property
    def line(self) -> str:
        return Signature(
            self.name, self.key_id, struct.pack(">Q", self.timestamp) + self.signature
        ).line

    @classmethod
    def from_signature(cls, sig: Signature) -> Cosignature:
        if len(sig.signature) != 8 + 64:
            raise MalformedNote("a cosignature/v1 is 8 bytes of time and 64 of signature")
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        return cls(sig.name, sig.key_id, int(timestamp), sig.signature[8:])


def cosign(checkpoint: Checkpoint, signer: NoteSigner, timestamp: int) -> Cosignature:
    if signer.alg != ALG_COSIGNATURE_V1:
        raise NoteError("a cosignature needs a cosignature/v1 (0x04) key")
    if not 0 < timestamp <= MAX_SIZE:
        raise NoteError("cosignature time must be a positive POSIX timestamp")
    sig = signer.sign(cosignature_message(checkpoint.text.encode("utf-8"), timestamp))
    return Cosignature(signer.name, signer.key_id, timestamp, sig)


def verify_cosignature(
    checkpoint: Checkpoint, cosignature: Cosignature, witness_key: Verifier
) -> bool:
    """True if ``cosignature`` is ``witness_key``'s valid cosignature/v1 of ``checkpoint``."""
    if witness_key.alg != ALG_COSIGNATURE_V1:
        return False
    if (cosignature.name, cosignature.key_id) != (witness_key.name, witness_key.key_id):
        return False
    raw = struct.pack(">Q", cosignature.timestamp) + cosignature.signature
    return witness_key.verify(checkpoint.text.encode("utf-8"), raw)


def parse_cosignature_lines(body: bytes, limit: int = MAX_NOTE_BYTES) -> list[Cosignature]:
    """Signature lines as a witness returns them (one or more, each ending in newline)."""
    text = _check_bytes(body, limit)
    if not text or not text.endswith("\n"):
        raise MalformedNote("expected signature lines ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signature lines")
    return [Cosignature.from_signature(parse_signature_line(line)) for line in lines]


def witnessed_checkpoint(
    msg: bytes,
    log_keys: Iterable[Verifier],
    witness_keys: Iterable[Verifier],
) -> tuple[Checkpoint, list[Cosignature]]:
    """Verify a checkpoint note carrying the log's signature and witnesses' cosignatures.

    Returns the checkpoint and the valid cosignatures from ``witness_keys`` (a known
    witness key whose cosignature fails raises ``InvalidNoteSignature``; unknown
    signature lines are ignored)."""
    logs = list(log_keys)
    witnesses = list(witness_keys)
    note = open_note(msg, [*logs, *witnesses])
    signed_by = {(sig.name, sig.key_id) for sig in note.verified}
    if not signed_by & {(k.name, k.key_id) for k in logs}:
        raise UnverifiedNote("checkpoint has no signature from the log's key")
    checkpoint = parse_checkpoint(note.text)
    witness_ids = {(w.name, w.key_id) for w in witnesses}
    cosignatures = [
        Cosignature.from_signature(sig)
        for sig in note.verified
        if (sig.name, sig.key_id) in witness_ids
    ]
    return checkpoint, cosignatures
