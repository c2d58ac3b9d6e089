"""The stand-alone witness (``consent-service witness``), tried as the log and as an attacker
holding the log's database and signing key would try it: over HTTP on a loopback port,
through the client the worker uses. No database of the service is involved."""

from __future__ import annotations

import hashlib
import http.client
import os
import sqlite3
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from consent_service.cli import main
from consent_service.witness import note as n
from consent_service.witness.client import (
    WitnessAhead,
    WitnessConflict,
    WitnessError,
    WitnessRefused,
    submit,
    submit_resyncing,
)
from consent_service.witness.consistency import EMPTY_HEAD
from consent_service.witness.server import bind
from consent_service.witness.service import Witness
from consent_service.witness.store import (
    DB_FILE,
    KEY_FILE,
    Accepted,
    StateError,
    WitnessStore,
    create_key,
)
from tests.witnesses import serve_in_thread

ORIGIN = "consent.example/audit"
NOW = 1_790_000_000


@dataclass
class Chain:
    """A chain v2 log on the log's side: digests, heads, and the log's signing key."""

    signer: n.NoteSigner = field(
        default_factory=lambda: n.parse_signer_key(n.generate_signer_key(ORIGIN))
    )
    digests: list[bytes] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=lambda: [EMPTY_HEAD])

    def append(self, count: int, salt: str = "") -> None:
        for _ in range(count):
            digest = hashlib.sha256(f"{salt}event {len(self.digests) + 1}".encode()).digest()
            self.digests.append(digest)
            self.heads.append(hashlib.sha256(self.heads[-1] + digest).digest())

    def note(self, size: int, origin: str = ORIGIN) -> str:
        return n.sign_checkpoint(n.Checkpoint(origin, size, self.heads[size]), self.signer)

    def since(self, old: int, new: int) -> list[bytes]:
        return self.digests[old:new]


@dataclass
class Running:
    url: str
    host: str
    port: int
    state: Path
    witness: Witness


def _start(state: Path, max_body_bytes: int | None = None) -> tuple[Running, object]:
    witness = Witness.open(state, now=lambda: NOW)
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    options = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    stop = serve_in_thread(witness, sock, **options)
    return Running(f"http://{host}:{port}", host, port, state, witness), stop


@pytest.fixture
def chain() -> Chain:
    c = Chain()
    c.append(10)
    return c


@pytest.fixture
def state(tmp_path: Path, chain: Chain) -> Path:
    folder = tmp_path / "witness"
    create_key(folder, "witness.example/w1")
    store = WitnessStore(folder)
    store.add_log(ORIGIN, chain.signer.verifier.vkey, NOW)
    store.close()
    return folder


@pytest.fixture
def running(state: Path) -> Iterator[Running]:
    r, stop = _start(state)
    yield r
    stop()  # type: ignore[operator]


def _wkey(r: Running) -> n.Verifier:
    return n.parse_vkey(r.witness.vkey)


def _post(r: Running, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(r.host, r.port, timeout=10)
    try:
        conn.request("POST", "/add-checkpoint", body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_first_checkpoint_and_a_consistent_extension_are_cosigned(
    running: Running, chain: Chain
) -> None:
    first = submit(running.url, chain.note(4), 0, [], 5, witness_key=_wkey(running))
    assert first.timestamp == NOW
    cp4 = n.Checkpoint(ORIGIN, 4, chain.heads[4])
    assert n.verify_cosignature(cp4, first, _wkey(running))

    second = submit(
        running.url, chain.note(10), 4, chain.since(4, 10), 5, witness_key=_wkey(running)
    )
    cp10 = n.Checkpoint(ORIGIN, 10, chain.heads[10])
    assert n.verify_cosignature(cp10, second, _wkey(running))
    # The cosigned note verifies as a whole with the log's and the witness's keys.
    witnessed = (chain.note(10) + second.line).encode()
    got, cosigs = n.witnessed_checkpoint(witnessed, [chain.signer.verifier], [_wkey(running)])
    assert (got, cosigs) == (cp10, [second])

    # Monitoring interface: the latest cosigned checkpoint, by hex SHA-256 of the origin.
    conn = http.client.HTTPConnection(running.host, running.port, timeout=10)
    conn.request("GET", f"/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint")
    response = conn.getresponse()
    assert response.status == 200
    latest = response.read()
    conn.close()
    got, cosigs = n.witnessed_checkpoint(latest, [chain.signer.verifier], [_wkey(running)])
    assert got.size == 10
    assert [c.timestamp for c in cosigs] == [NOW]

    kept = running.witness.store.accepted(ORIGIN)
    assert [(a.size, a.root_hash) for a in kept] == [(4, chain.heads[4]), (10, chain.heads[10])]


def test_resubmitting_the_same_head_is_cosigned_again(running: Running, chain: Chain) -> None:
    submit(running.url, chain.note(4), 0, [], 5, witness_key=_wkey(running))
    again = submit(running.url, chain.note(4), 4, [], 5, witness_key=_wkey(running))
    assert n.verify_cosignature(n.Checkpoint(ORIGIN, 4, chain.heads[4]), again, _wkey(running))


def _rebuilt(chain: Chain, keep: int, add: int) -> Chain:
    """The attacker's chain: the same log key, the first ``keep`` events, then others."""
    other = Chain(signer=chain.signer)
    other.digests = list(chain.digests[:keep])
    other.heads = list(chain.heads[: keep + 1])
    other.append(add, salt="rewritten ")
    return other


def test_a_rewritten_history_of_the_same_size_is_refused_and_kept_as_evidence(
    running: Running, chain: Chain
) -> None:
    submit(running.url, chain.note(10), 0, [], 5, witness_key=_wkey(running))
    forged = _rebuilt(chain, 6, 4)
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, forged.note(10), 10, [], 5, witness_key=_wkey(running))
    assert excinfo.value.status == 422
    assert running.witness.store.latest(ORIGIN).root_hash == chain.heads[10]  # type: ignore[union-attr]
    assert running.witness.store.refused_count(ORIGIN) == 1


def test_a_longer_history_that_does_not_link_to_the_witnessed_head_is_refused(
    running: Running, chain: Chain
) -> None:
    submit(running.url, chain.note(8), 0, [], 5, witness_key=_wkey(running))
    forged = _rebuilt(chain, 5, 7)  # 12 events, diverging after event 5
    # Its own digests, which do not lead from the witnessed head to its head.
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, forged.note(12), 8, forged.since(8, 12), 5, witness_key=_wkey(running))
    assert excinfo.value.status == 422
    # Nor do the true digests lead to the forged head.
    chain.append(2)
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, forged.note(12), 8, chain.since(8, 12), 5, witness_key=_wkey(running))
    assert excinfo.value.status == 422
    # Too few digests for the sizes.
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, chain.note(12), 8, chain.since(8, 11), 5, witness_key=_wkey(running))
    assert excinfo.value.status == 422
    assert running.witness.store.latest(ORIGIN).size == 8  # type: ignore[union-attr]


def test_a_cut_is_never_cosigned(running: Running, chain: Chain) -> None:
    submit(running.url, chain.note(10), 0, [], 5, witness_key=_wkey(running))
    with pytest.raises(WitnessRefused) as refused:
        submit(running.url, chain.note(7), 10, [], 5, witness_key=_wkey(running))
    assert refused.value.status == 400  # old size larger than the checkpoint's
    with pytest.raises(WitnessConflict) as conflict:
        submit(running.url, chain.note(7), 4, chain.since(4, 7), 5, witness_key=_wkey(running))
    assert conflict.value.witness_size == 10
    assert running.witness.store.latest(ORIGIN).size == 10  # type: ignore[union-attr]


def test_a_stale_old_size_gets_409_with_the_witness_size_and_resending_works(
    running: Running, chain: Chain
) -> None:
    submit(running.url, chain.note(4), 0, [], 5, witness_key=_wkey(running))
    with pytest.raises(WitnessConflict) as conflict:
        submit(running.url, chain.note(10), 0, [], 5, witness_key=_wkey(running))
    assert conflict.value.witness_size == 4
    status, body = _post(running, f"old 2\n{'A' * 43}=\n\n".encode() + chain.note(10).encode())
    assert (status, body) == (409, b"4\n")
    size = conflict.value.witness_size
    cosig = submit(
        running.url, chain.note(10), size, chain.since(size, 10), 5, witness_key=_wkey(running)
    )
    assert cosig.timestamp == NOW


def test_conflict_answer_has_the_spec_content_type(running: Running, chain: Chain) -> None:
    submit(running.url, chain.note(4), 0, [], 5, witness_key=_wkey(running))
    conn = http.client.HTTPConnection(running.host, running.port, timeout=10)
    conn.request("POST", "/add-checkpoint", body=b"old 0\n\n" + chain.note(10).encode())
    response = conn.getresponse()
    assert response.status == 409
    assert response.getheader("content-type") == "text/x.tlog.size"
    assert response.read() == b"4\n"
    conn.close()


def test_a_checkpoint_signed_by_another_key_is_forbidden(running: Running, chain: Chain) -> None:
    impostor = Chain()  # same origin, key name and chain, another key
    impostor.digests, impostor.heads = chain.digests, chain.heads
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, impostor.note(4), 0, [], 5, witness_key=_wkey(running))
    assert excinfo.value.status == 403
    # A known key's signature on altered text is forbidden too.
    tampered = chain.note(4).replace("\n4\n", "\n5\n", 1)
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, tampered, 0, [], 5, witness_key=_wkey(running))
    assert excinfo.value.status == 403
    assert running.witness.store.latest(ORIGIN) is None


def test_an_unknown_origin_is_not_found(running: Running, chain: Chain) -> None:
    with pytest.raises(WitnessRefused) as excinfo:
        submit(
            running.url,
            chain.note(4, origin="other.example/log"),
            0,
            [],
            5,
            witness_key=_wkey(running),
        )
    assert excinfo.value.status == 404


def test_size_zero_must_carry_the_empty_head_and_a_first_proof_must_be_empty(
    running: Running, chain: Chain
) -> None:
    bad_empty = n.sign_checkpoint(n.Checkpoint(ORIGIN, 0, b"\x01" * 32), chain.signer)
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, bad_empty, 0, [], 5, witness_key=_wkey(running))
    assert excinfo.value.status == 422
    with pytest.raises(WitnessRefused) as excinfo:
        submit(running.url, chain.note(4), 0, chain.since(0, 4), 5, witness_key=_wkey(running))
    assert excinfo.value.status == 422
    assert submit(running.url, chain.note(0), 0, [], 5, witness_key=_wkey(running))


JUNK = [
    b"",
    b"hello",
    b"old 0\n",
    b"old 0\n\n",
    b"old 0\n\nnot a note at all\n",
    b"old 0\n\n\xff\xfe\xfd\n\n\xe2\x80\x94 x AAAAAAA=\n",
    b"old 0\n\nconsent.example/audit\n4\n" + b"A" * 5000 + b"\n\n\xe2\x80\x94 x AAAAAAA=\n",
    b"old 0\n\nconsent.example/audit\n4\nAAAA\n\n\xe2\x80\x94 x AAAAAAA=\n",
    b"old 0\n\nconsent.example/audit\n4\n" + b"A" * 43 + b"=\n",
    b"old 0\n\x00\x01\x02\n\nx",
    b"\x00" * 10_000,
    b"old 1\n" + b"A" * 43 + b"=\n" * 3 + b"\nx",
    "old 0\n\nconsent.example/audit\n4\n\n— x\u2028 AAAAAAA=\n".encode(),
]


@pytest.mark.parametrize("body", JUNK)
def test_junk_bodies_get_a_4xx_never_a_500(running: Running, body: bytes) -> None:
    status, answer = _post(running, body)
    assert 400 <= status < 500, (status, answer)
    assert running.witness.store.latest(ORIGIN) is None


def test_wrong_method_and_path(running: Running) -> None:
    conn = http.client.HTTPConnection(running.host, running.port, timeout=10)
    conn.request("GET", "/add-checkpoint")
    assert conn.getresponse().status == 405
    conn.close()
    conn = http.client.HTTPConnection(running.host, running.port, timeout=10)
    conn.request("GET", "/../../etc/passwd")
    assert conn.getresponse().status == 404
    conn.close()
    conn = http.client.HTTPConnection(running.host, running.port, timeout=10)
    conn.request("GET", f"/{'0' * 64}/checkpoint")
    assert conn.getresponse().status == 404
    conn.close()


def test_an_oversized_body_is_refused_with_413(state: Path, chain: Chain) -> None:
    r, stop = _start(state, max_body_bytes=4096)
    try:
        status, _ = _post(r, b"old 0\n\n" + b"x" * 5000)
        assert status == 413
        # A declared length over the limit is refused before the body is read.
        conn = http.client.HTTPConnection(r.host, r.port, timeout=10)
        conn.putrequest("POST", "/add-checkpoint")
        conn.putheader("Content-Length", str(10**9))
        conn.endheaders()
        conn.send(b"old 0\n\n")
        assert conn.getresponse().status == 413
        conn.close()
        # Chunked, without a declared length: counted as it arrives.
        conn = http.client.HTTPConnection(r.host, r.port, timeout=10)
        conn.request(
            "POST", "/add-checkpoint", body=iter([b"old 0\n\n", b"y" * 5000]), encode_chunked=True
        )
        assert conn.getresponse().status == 413
        conn.close()
        # Under the limit, the same witness still works.
        assert submit(r.url, chain.note(4), 0, [], 5, witness_key=n.parse_vkey(r.witness.vkey))
    finally:
        stop()  # type: ignore[operator]


def test_state_survives_a_restart(state: Path, chain: Chain) -> None:
    r, stop = _start(state)
    vkey = r.witness.vkey
    submit(r.url, chain.note(6), 0, [], 5, witness_key=n.parse_vkey(vkey))
    stop()  # type: ignore[operator]
    r, stop = _start(state)
    try:
        assert r.witness.vkey == vkey
        with pytest.raises(WitnessConflict) as conflict:
            submit(r.url, chain.note(10), 0, [], 5, witness_key=n.parse_vkey(vkey))
        assert conflict.value.witness_size == 6
        forged = _rebuilt(chain, 3, 3)
        with pytest.raises(WitnessRefused):
            submit(r.url, forged.note(6), 6, [], 5, witness_key=n.parse_vkey(vkey))
        submit(r.url, chain.note(10), 6, chain.since(6, 10), 5, witness_key=n.parse_vkey(vkey))
    finally:
        stop()  # type: ignore[operator]


def test_concurrent_submissions_from_the_same_size_cosign_only_one(
    running: Running, chain: Chain
) -> None:
    submit(running.url, chain.note(2), 0, [], 5, witness_key=_wkey(running))

    def one(size: int) -> str:
        try:
            submit(
                running.url,
                chain.note(size),
                2,
                chain.since(2, size),
                10,
                witness_key=_wkey(running),
            )
        except WitnessConflict:
            return "conflict"
        return "ok"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, [3, 4, 5, 6, 7, 8, 9, 10]))
    assert results.count("ok") == 1
    assert results.count("conflict") == 7
    sizes = [a.size for a in running.witness.store.accepted(ORIGIN)]
    assert len(sizes) == 2
    assert sizes == sorted(sizes)


def test_the_store_refuses_update_and_delete(state: Path) -> None:
    store = WitnessStore(state)
    with store.transaction():
        store.append_accepted(Accepted(ORIGIN, 1, bytes(32), "note\n", "line\n", NOW))
        store.append_refused(ORIGIN, 1, bytes(32), "note\n", 422, "fork", NOW)
    store.close()
    db = sqlite3.connect(state / DB_FILE)
    for table in ("witnessed_log", "accepted_checkpoint", "refused_checkpoint"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(f"UPDATE {table} SET origin = 'x'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(f"DELETE FROM {table}")
    db.close()


def test_init_creates_a_private_key_once_and_never_overwrites_it(
    tmp_path: Path, chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "w"
    args = ["witness", "init", "--state", str(folder), "--name", "witness.example/w9"]
    log = ["--origin", ORIGIN, "--log", chain.signer.verifier.vkey]
    assert main([*args, *log]) == 0
    vkey = capsys.readouterr().out.strip().splitlines()[-1]
    verifier = n.parse_vkey(vkey)
    assert verifier.name == "witness.example/w9"
    assert verifier.alg == n.ALG_COSIGNATURE_V1
    key_path = folder / KEY_FILE
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    before = key_path.read_bytes()

    second = Chain()
    assert main([*args, "--origin", "other.example/log", "--log", second.signer.verifier.vkey]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == vkey
    assert key_path.read_bytes() == before
    store = WitnessStore(folder)
    assert store.origins() == sorted([ORIGIN, "other.example/log"])
    store.close()

    assert main(["witness", "init", "--state", str(folder), "--name", "other/name"]) == 2
    assert key_path.read_bytes() == before
    with pytest.raises(StateError, match="never overwritten"):
        create_key(folder, "witness.example/w9")
    assert key_path.read_bytes() == before
    assert main([*args, "--origin", ORIGIN, "--log", "not+a+vkey"]) == 2


def test_a_key_readable_by_others_is_refused(state: Path) -> None:
    os.chmod(state / KEY_FILE, 0o644)
    with pytest.raises(StateError, match="chmod 600"):
        Witness.open(state)


def test_client_refuses_non_http_urls(chain: Chain) -> None:
    key = n.parse_vkey(n.parse_signer_key(n.generate_signer_key("w", 4)).verifier.vkey)
    for url in ("file:///etc/passwd", "ftp://x/", "localhost:1"):
        with pytest.raises(ValueError, match="http"):
            submit(url, chain.note(1), 0, [], 1, witness_key=key)


def test_client_reports_an_unreachable_witness(chain: Chain) -> None:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    key = n.parse_vkey(n.parse_signer_key(n.generate_signer_key("w", 4)).verifier.vkey)
    with pytest.raises(WitnessError, match="unreachable"):
        submit(f"http://127.0.0.1:{port}", chain.note(1), 0, [], 2, witness_key=key)


def test_client_refuses_a_cosignature_from_another_witness_key(
    running: Running, chain: Chain
) -> None:
    other = n.parse_signer_key(n.generate_signer_key("witness.example/w1", 4)).verifier
    with pytest.raises(WitnessError, match="no valid cosignature"):
        submit(running.url, chain.note(4), 0, [], 5, witness_key=other)


def test_serve_command_binds_loopback_by_default_and_cosigns(state: Path, chain: Chain) -> None:
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "consent_service.cli", "witness", "serve"]
    proc = subprocess.Popen(
        [*command, "--state", str(state), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        vkey, address = line.split()[1], line.split()[-1]
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1"
        cosig = submit(
            f"http://{host}:{port}", chain.note(3), 0, [], 5, witness_key=n.parse_vkey(vkey)
        )
        assert n.verify_cosignature(
            n.Checkpoint(ORIGIN, 3, chain.heads[3]), cosig, n.parse_vkey(vkey)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode in (0, -15)


def test_log_key_prints_the_vkey_that_verifies_checkpoints_signed_by_the_service_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64

    from consent_service.config import load_settings
    from consent_service.crypto import Crypto

    for name in ("MASTER_KEY", "INDEX_KEY", "SIGNING_KEY"):
        monkeypatch.setenv(f"CONSENT_{name}", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("CONSENT_ENV_FILE", str(tmp_path / "absent.env"))
    assert main(["witness", "log-key", "--origin", ORIGIN]) == 0
    vkey = n.parse_vkey(capsys.readouterr().out.strip())
    crypto = Crypto(load_settings().keys)
    signer = n.signer_from_function(ORIGIN, crypto.public_key, crypto.sign)
    signed = n.sign_checkpoint(n.Checkpoint(ORIGIN, 1, b"\x01" * 32), signer)
    checkpoint, _ = n.open_checkpoint(signed.encode(), [vkey])
    assert checkpoint.size == 1


def test_submit_resyncing_resends_from_the_witness_size_and_flags_a_witness_ahead(
    running: Running, chain: Chain
) -> None:
    asked: list[int] = []

    def digests_after(size: int, new: int = 10) -> list[bytes]:
        asked.append(size)
        return chain.since(size, new)

    submit(running.url, chain.note(6), 0, [], 5, witness_key=_wkey(running))
    # The log lost track of what the witness holds: it starts from 0.
    cosig = submit_resyncing(
        running.url, chain.note(10), 0, digests_after, 5, witness_key=_wkey(running)
    )
    assert asked == [0, 6]
    assert n.verify_cosignature(n.Checkpoint(ORIGIN, 10, chain.heads[10]), cosig, _wkey(running))
    # A log that now sends a smaller checkpoint has lost what the witness saw.
    with pytest.raises(WitnessAhead) as ahead:
        submit_resyncing(
            running.url,
            chain.note(8),
            6,
            lambda size: chain.since(size, 8),
            5,
            witness_key=_wkey(running),
        )
    assert (ahead.value.witness_size, ahead.value.checkpoint_size) == (10, 8)
