"""C2SP signed notes, checkpoints and cosignatures (consent_service.witness.note).

Known-answer vectors are published ones: the signed-note specification's example
(c2sp.org/signed-note, "Verifier keys"), Go's golang.org/x/mod/sumdb/note tests
(PeterNeumann / EnochRoot), and transparency-dev/formats' cosignature/v1 tests (a vkey of
type 0x04 and a timestamped signature). Reproducing them byte for byte shows that our key
ids, vkeys, signature lines and cosignature layout are the published ones.
"""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from consent_service.witness import note as n

# c2sp.org/signed-note, "Example"
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# golang.org/x/mod/sumdb/note, note_test.go
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox"
    "33WWd1RvMc+QQ=\n"
)
# transparency-dev/formats, note/note_cosigv1_test.go
COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
COSIG_B64 = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFi"
    "EBYJXORmnFBOBA=="
)


def test_c2sp_example_note_verifies() -> None:
    verifier = n.parse_vkey(C2SP_VKEY)
    assert verifier.key_id == 0x530D903A
    assert verifier.vkey == C2SP_VKEY
    opened = n.open_note(C2SP_NOTE.encode(), [verifier])
    assert opened.text == "This is an example message.\n"
    assert [s.name for s in opened.verified] == ["example.com/foo"]


def test_go_signer_key_reproduces_go_signature_byte_for_byte() -> None:
    signer = n.parse_signer_key(GO_SKEY)
    assert signer.verifier.vkey == GO_VKEY
    assert f"{signer.key_id:08x}" == "c74f20a3"
    assert n.sign_note(GO_TEXT, signer) == GO_TEXT + "\n" + GO_SIG


def test_go_open_keeps_unknown_signatures_unverified() -> None:
    peter = n.parse_vkey(GO_VKEY)
    enoch = n.parse_vkey(ENOCH_VKEY)
    msg = (GO_TEXT + "\n" + GO_SIG + ENOCH_SIG).encode()
    only_peter = n.open_note(msg, [peter])
    assert [s.name for s in only_peter.verified] == ["PeterNeumann"]
    assert [s.name for s in only_peter.unverified] == ["EnochRoot"]
    both = n.open_note(msg, [peter, enoch])
    assert {s.name for s in both.verified} == {"PeterNeumann", "EnochRoot"}
    with pytest.raises(n.UnverifiedNote):
        n.open_note(msg, [n.parse_vkey(C2SP_VKEY)])


def test_cosignature_v1_vkey_and_timestamp_layout_match_published_vectors() -> None:
    verifier = n.parse_vkey(COSIG_VKEY)  # key id checked with type byte 0x04
    assert verifier.alg == n.ALG_COSIGNATURE_V1
    raw = base64.b64decode(COSIG_B64)
    sig = n.Signature("any.example/w", struct.unpack(">I", raw[:4])[0], raw[4:])
    cosig = n.Cosignature.from_signature(sig)
    assert cosig.timestamp == 1727964367
    assert len(cosig.signature) == 64
    assert cosig.line == f"— any.example/w {COSIG_B64}\n"


@pytest.mark.parametrize(
    "vkey",
    [
        GO_VKEY[:-1],
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("PeterNeumann", "PeterNeumanm"),
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+x",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "",
    ],
)
def test_mangled_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(n.NoteError):
        n.parse_vkey(vkey)


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    import hashlib

    key = Ed25519PrivateKey.generate().public_key()
    v = n.make_verifier("log.example/audit", key)
    raw = n.raw_public_key(key)
    expected = hashlib.sha256(b"log.example/audit\n\x01" + raw).digest()[:4]
    assert struct.pack(">I", v.key_id) == expected
    assert n.parse_vkey(v.vkey) == v


def _log() -> n.NoteSigner:
    return n.parse_signer_key(n.generate_signer_key("log.example/audit"))


def _witness() -> n.NoteSigner:
    return n.parse_signer_key(n.generate_signer_key("witness.example/w1", n.ALG_COSIGNATURE_V1))


def test_checkpoint_round_trip_and_body_format() -> None:
    log = _log()
    head = bytes(range(32))
    cp = n.Checkpoint("log.example/audit", 42, head)
    assert cp.text == f"log.example/audit\n42\n{base64.b64encode(head).decode()}\n"
    signed = n.sign_checkpoint(cp, log)
    opened, _ = n.open_checkpoint(signed.encode(), [log.verifier])
    assert opened == cp
    assert n.checkpoint_origin(signed.encode()) == "log.example/audit"


@pytest.mark.parametrize(
    "checkpoint",
    [
        n.Checkpoint("log.example/audit\n99", 1, bytes(32)),
        n.Checkpoint("log.example/audit", -1, bytes(32)),
        n.Checkpoint("log.example/audit", 1, bytes(31)),
        n.Checkpoint("log.example/audit", 1, bytes(32), ("",)),
    ],
)
def test_a_log_never_signs_a_checkpoint_that_would_read_back_differently(
    checkpoint: n.Checkpoint,
) -> None:
    with pytest.raises(n.MalformedNote):
        n.sign_checkpoint(checkpoint, _log())


def test_checkpoint_signed_by_the_service_key_function() -> None:
    private = Ed25519PrivateKey.generate()
    signer = n.signer_from_function("log.example/audit", private.public_key(), private.sign)
    signed = n.sign_checkpoint(n.Checkpoint("log.example/audit", 1, bytes(32)), signer)
    n.open_checkpoint(signed.encode(), [n.make_verifier("log.example/audit", private.public_key())])


def test_a_changed_checkpoint_fails_its_known_signature() -> None:
    log = _log()
    signed = n.sign_checkpoint(n.Checkpoint("log.example/audit", 5, bytes(32)), log)
    forged = signed.replace("\n5\n", "\n6\n", 1)
    with pytest.raises(n.InvalidNoteSignature):
        n.open_checkpoint(forged.encode(), [log.verifier])
    with pytest.raises(n.UnverifiedNote):
        n.open_checkpoint(signed.encode(), [_log().verifier])  # same name, other key


def test_cosignature_verifies_with_the_witness_key_only() -> None:
    log, witness = _log(), _witness()
    cp = n.Checkpoint("log.example/audit", 7, b"\x07" * 32)
    cosig = n.cosign(cp, witness, 1_790_000_000)
    assert n.verify_cosignature(cp, cosig, witness.verifier)
    assert not n.verify_cosignature(cp, cosig, _witness().verifier)
    assert not n.verify_cosignature(
        n.Checkpoint("log.example/audit", 8, b"\x07" * 32), cosig, witness.verifier
    )
    later = n.Cosignature(cosig.name, cosig.key_id, cosig.timestamp + 1, cosig.signature)
    assert not n.verify_cosignature(cp, later, witness.verifier)
    # The signed message is the specification's, byte for byte.
    message = b"cosignature/v1\ntime 1790000000\n" + cp.text.encode()
    Ed25519PublicKey.from_public_bytes(witness.public_key).verify(cosig.signature, message)
    # The whole witnessed note: log signature plus cosignature line.
    whole = (n.sign_checkpoint(cp, log) + cosig.line).encode()
    opened, cosigs = n.witnessed_checkpoint(whole, [log.verifier], [witness.verifier])
    assert opened == cp
    assert cosigs == [cosig]


def test_a_note_signed_only_by_a_witness_is_not_a_log_checkpoint() -> None:
    witness = _witness()
    cp = n.Checkpoint("log.example/audit", 7, b"\x07" * 32)
    note_text = cp.text + "\n" + n.cosign(cp, witness, 1_790_000_000).line
    with pytest.raises(n.UnverifiedNote):
        n.witnessed_checkpoint(note_text.encode(), [_log().verifier], [witness.verifier])


def test_a_cosignature_key_cannot_sign_a_plain_note_and_vice_versa() -> None:
    with pytest.raises(n.NoteError):
        n.sign_note("x\n", _witness())
    with pytest.raises(n.NoteError):
        n.cosign(n.Checkpoint("o", 1, bytes(32)), _log(), 1)


HEAD = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("msg", "why"),
    [
        (b"", "blank line"),
        (b"\xff\xfe garbage\n\n\xe2\x80\x94 a AAAAAAA=\n", "UTF-8"),
        (b"text\n\x00\n\n\xe2\x80\x94 a AAAAAAA=\n", "control"),
        (b"text\nno blank line\n\xe2\x80\x94 a AAAAAAA=\n", "blank line"),
        (b"text\n\n", "no signature lines"),
        (b"text\n\n\xe2\x80\x94 a AAAAAAA=", "newline"),
        (b"text\n\n- a AAAAAAA=\n", "em dash"),
        (b"text\n\n\xe2\x80\x94 a+b AAAAAAA=\n", "<key name>"),
        (b"text\n\n\xe2\x80\x94 a not*base64\n", "base64"),
        (b"text\n\n\xe2\x80\x94 a AAAA\n", "too short"),
        (b"text\n\n" + b"\xe2\x80\x94 a " + b"A" * 5000 + b"\n", "too long"),
        (b"x" * (n.MAX_NOTE_BYTES + 1), "larger than"),
        (b"text\n\n" + b"\xe2\x80\x94 a AAAAAAA=\n" * (n.MAX_SIGNATURES + 1), "more than"),
    ],
)
def test_hostile_notes_are_refused_with_a_reason(msg: bytes, why: str) -> None:
    with pytest.raises(n.MalformedNote) as excinfo:
        n.open_note(msg, [_log().verifier])
    assert why in str(excinfo.value)


@pytest.mark.parametrize(
    "text",
    [
        "origin\n42\n",
        "\n42\n" + HEAD + "\n",
        "origin\n042\n" + HEAD + "\n",
        "origin\n-1\n" + HEAD + "\n",
        "origin\n99999999999999999999\n" + HEAD + "\n",
        "origin\n42\nAAAA\n",
        "origin\n42\nnot base64!\n",
        "origin\n42\n" + HEAD,
        "origin\n42\n" + HEAD + "\n\n",
        "origin\n4 2\n" + HEAD + "\n",
    ],
)
def test_malformed_checkpoint_bodies_are_refused(text: str) -> None:
    with pytest.raises(n.MalformedNote):
        n.parse_checkpoint(text)


def test_signer_key_round_trip_and_mangling() -> None:
    skey = n.generate_signer_key("witness.example/w1", n.ALG_COSIGNATURE_V1)
    signer = n.parse_signer_key(skey)
    assert signer.name == "witness.example/w1"
    assert n.parse_vkey(signer.verifier.vkey) == signer.verifier
    for bad in (skey[:-2], skey.replace("PRIVATE+KEY", "PUBLIC+KEY"), skey.replace("w1", "w2")):
        with pytest.raises(n.NoteError):
            n.parse_signer_key(bad)
