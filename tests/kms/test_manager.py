"""ETSI 014 semantics in-process, and the hop-by-hop relay through a trusted node."""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from euroqci.errors import (
    ConfigurationError,
    InsufficientKeyMaterial,
    KeyNotFound,
    RelayError,
    SAENotAuthorized,
    UnsupportedExtension,
)
from euroqci.kms import InProcessRelay, KeyManager, KMEProfile, Link, MemoryKeyStore
from euroqci.kms.relay import RelayMessage, open_message, seal_message
from euroqci.kms.store import KeyStore, LinkKey
from euroqci.kms.supply import import_key_drop, read_key_file, write_key_file

SAES = {"SAE-A": "KME-A", "SAE-A2": "KME-A", "SAE-B": "KME-B", "SAE-C": "KME-B", "SAE-T": "KME-T"}


def _profile(kme_id: str, links: list[Link], routes: dict[str, str]) -> KMEProfile:
    return KMEProfile(
        kme_id=kme_id,
        local_sae_ids=frozenset(s for s, k in SAES.items() if k == kme_id),
        remote_saes={s: k for s, k in SAES.items() if k != kme_id},
        links=tuple(links),
        routes=routes,
        max_key_count=1000,
    )


def supply(managers: list[KeyManager], link_id: str, n: int, size: int = 32) -> None:
    """Both ends of a link receive the same keys under the same IDs."""
    pairs = [(str(uuid.uuid4()), secrets.token_bytes(size)) for _ in range(n)]
    for m in managers:
        m.add_link_keys(link_id, pairs)


@pytest.fixture
def chain() -> dict[str, KeyManager]:
    """A - T - B joined by two QKD links; A reaches B through the trusted node T."""
    return make_chain(lambda name: MemoryKeyStore())


def make_chain(make_store: Callable[[str], KeyStore]) -> dict[str, KeyManager]:
    relay = InProcessRelay()
    a = KeyManager(
        make_store("A"),
        profile=_profile("KME-A", [Link("A~T", "KME-T")], {"KME-B": "A~T"}),
        relay=relay,
    )
    t = KeyManager(
        make_store("T"),
        profile=_profile("KME-T", [Link("A~T", "KME-A"), Link("T~B", "KME-B")], {}),
        relay=relay,
    )
    b = KeyManager(
        make_store("B"),
        profile=_profile("KME-B", [Link("T~B", "KME-T")], {"KME-A": "T~B"}),
        relay=relay,
    )
    for m in (a, t, b):
        relay.attach(m)
    supply([a, t], "A~T", 200)
    supply([t, b], "T~B", 200)
    return {"A": a, "T": t, "B": b}


def test_relayed_key_reaches_slave_once(chain: dict[str, KeyManager]) -> None:
    a, t, b = chain["A"], chain["T"], chain["B"]
    keys = a.get_enc_keys("SAE-B", master_sae_id="SAE-A", number=3, size_bits=512)
    assert [len(k.material) for k in keys] == [64] * 3
    got = b.get_dec_keys("SAE-A", [k.key_id for k in keys], slave_sae_id="SAE-B")
    assert [g.material for g in got] == [k.material for k in keys]
    with pytest.raises(KeyNotFound):
        b.get_dec_keys("SAE-A", [keys[0].key_id], slave_sae_id="SAE-B")
    assert b.store.count_keys() == 0 and t.store.count_keys() == 0
    assert a.stats["keys_relayed"] == 3 and t.stats["keys_relayed"] == 3


def test_each_link_key_is_used_once_on_every_hop(chain: dict[str, KeyManager]) -> None:
    a, t, b = chain["A"], chain["T"], chain["B"]
    before = (a.pool_status("A~T"), t.pool_status("T~B"))
    a.get_enc_keys("SAE-B", master_sae_id="SAE-A", number=2, size_bits=256)
    # 2 keys of 32 bytes + 32 bytes of authentication key = 3 link keys of 32 bytes per hop.
    assert before[0].outbound_keys - a.pool_status("A~T").outbound_keys == 3
    assert before[0].inbound_keys == a.pool_status("A~T").inbound_keys
    # Both ends of each link hold the same pool afterwards.
    for link, (x, y) in {"A~T": (a, t), "T~B": (t, b)}.items():
        px, py = x.pool_status(link), y.pool_status(link)
        assert (px.outbound_keys, px.inbound_keys) == (py.inbound_keys, py.outbound_keys)
    assert before[1].outbound_keys - t.pool_status("T~B").outbound_keys == 3


def test_multicast_to_slaves_on_two_kmes(chain: dict[str, KeyManager]) -> None:
    a, t, b = chain["A"], chain["T"], chain["B"]
    keys = a.get_enc_keys(
        "SAE-B",
        master_sae_id="SAE-A",
        additional_slave_sae_ids=["SAE-C", "SAE-T", "SAE-A2"],
    )
    ids = [keys[0].key_id]
    for kme, sae in ((b, "SAE-B"), (b, "SAE-C"), (t, "SAE-T"), (a, "SAE-A2")):
        assert kme.get_dec_keys("SAE-A", ids, slave_sae_id=sae)[0].material == keys[0].material
    assert a.store.count_keys() == b.store.count_keys() == t.store.count_keys() == 0


def test_sae_not_named_gets_unauthorized(chain: dict[str, KeyManager]) -> None:
    a, b = chain["A"], chain["B"]
    keys = a.get_enc_keys("SAE-B", master_sae_id="SAE-A")
    with pytest.raises(SAENotAuthorized):
        b.get_dec_keys("SAE-A", [keys[0].key_id], slave_sae_id="SAE-C")
    with pytest.raises(SAENotAuthorized):  # SAE-B is not attached to KME-A
        a.get_dec_keys("SAE-A", [keys[0].key_id], slave_sae_id="SAE-B")
    with pytest.raises(SAENotAuthorized):
        b.get_enc_keys("SAE-B", master_sae_id="SAE-A")
    assert b.get_dec_keys("SAE-A", [keys[0].key_id], slave_sae_id="SAE-B")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size_bits": 260}, "size shall be a multiple of 8"),
        ({"size_bits": 8}, "size: give 64 to 4096 bits"),
        ({"size_bits": 10**9}, "size: give 64 to 4096 bits"),
        ({"number": 0}, "number"),
        ({"number": -3}, "number"),
        ({"number": 129}, "number"),
        ({"number": True}, "number"),
        ({"additional_slave_sae_ids": ["SAE-B"]}, "once"),
        ({"additional_slave_sae_ids": ["NOBODY"]}, "not known"),
        ({"additional_slave_sae_ids": [f"S{i}" for i in range(9)]}, "at most 8"),
    ],
)
def test_bad_requests_are_configuration_errors(
    chain: dict[str, KeyManager], kwargs: dict[str, object], message: str
) -> None:
    before = chain["A"].pool_status("A~T")
    with pytest.raises(ConfigurationError, match=message):
        chain["A"].get_enc_keys("SAE-B", master_sae_id="SAE-A", **kwargs)  # type: ignore[arg-type]
    assert chain["A"].pool_status("A~T") == before


def test_extension_mandatory_is_refused(chain: dict[str, KeyManager]) -> None:
    with pytest.raises(UnsupportedExtension) as info:
        chain["A"].get_enc_keys(
            "SAE-B", master_sae_id="SAE-A", extension_mandatory=[{"abc_route_type": "direct"}]
        )
    assert str(info.value) == "not all extension_mandatory parameters are supported"
    assert info.value.names == ("abc_route_type",)


def test_bad_key_ids(chain: dict[str, KeyManager]) -> None:
    b = chain["B"]
    with pytest.raises(ConfigurationError, match="UUID"):
        b.get_dec_keys("SAE-A", ["not-a-uuid"], slave_sae_id="SAE-B")
    with pytest.raises(ConfigurationError):
        b.get_dec_keys("SAE-A", [], slave_sae_id="SAE-B")
    with pytest.raises(KeyNotFound):
        b.get_dec_keys("SAE-A", [str(uuid.uuid4())], slave_sae_id="SAE-B")


def test_status(chain: dict[str, KeyManager]) -> None:
    status = chain["A"].status("SAE-B", master_sae_id="SAE-A")
    pool = chain["A"].pool_status("A~T")
    assert status.target_kme_id == "KME-B"
    assert status.stored_key_count == (pool.outbound_bytes - 32) // 32
    assert status.max_key_per_request == 128 and status.max_sae_id_count == 8
    with pytest.raises(SAENotAuthorized):
        chain["A"].status("SAE-B", master_sae_id="SAE-B")
    with pytest.raises(ConfigurationError):
        chain["A"].status("NOBODY", master_sae_id="SAE-A")


def test_exhausted_link_delivers_nothing(chain: dict[str, KeyManager]) -> None:
    a, t, b = chain["A"], chain["T"], chain["B"]
    t.store.take_link_keys("T~B", n_bytes=t.pool_status("T~B").outbound_bytes)  # drain T -> B
    before_a = a.pool_status("A~T")
    with pytest.raises(RelayError):
        a.get_enc_keys("SAE-B", master_sae_id="SAE-A")
    # A's ciphertext was on the wire: A burnt its link keys and T discarded its copies.
    after_a, after_t = a.pool_status("A~T"), t.pool_status("A~T")
    assert after_a.outbound_keys == before_a.outbound_keys - 2
    assert (after_a.outbound_keys, after_a.inbound_keys) == (
        after_t.inbound_keys,
        after_t.outbound_keys,
    )
    assert b.store.count_keys() == 0 and t.store.count_keys() == 0
    assert a.stats["keys_delivered_master"] == 0
    a.store.take_link_keys("A~T", n_bytes=a.pool_status("A~T").outbound_bytes)
    with pytest.raises(InsufficientKeyMaterial):
        a.get_enc_keys("SAE-B", master_sae_id="SAE-A")


def test_tampered_message_is_rejected() -> None:
    link_keys = [LinkKey(f"k{i}", secrets.token_bytes(32)) for i in range(3)]
    fields = dict(
        batch_id="b",
        origin_kme_id="A",
        destination_kme_id="B",
        master_sae_id="M",
        slave_sae_ids=["S"],
        key_ids=["x", "y"],
        size_bits=256,
        link_id="L",
        hops=["A"],
    )
    keys = [secrets.token_bytes(32), secrets.token_bytes(32)]
    message = seal_message(keys, link_keys, **fields)  # type: ignore[arg-type]
    assert open_message(message, link_keys) == keys
    assert keys[0] not in message.ciphertext
    for change in ({"master_sae_id": "EVIL"}, {"ciphertext": bytes(64)}, {"tag": bytes(32)}):
        forged = dataclasses.replace(message, **change)  # type: ignore[arg-type]
        with pytest.raises(RelayError, match="authentication"):
            open_message(forged, link_keys)
    assert "ciphertext=" not in repr(message)


def test_receiver_checks_the_sending_kme(chain: dict[str, KeyManager]) -> None:
    link_keys = chain["A"].store.take_link_keys("A~T", n_bytes=64)
    message = seal_message(
        [bytes(32)],
        link_keys,
        batch_id="b",
        origin_kme_id="KME-A",
        destination_kme_id="KME-T",
        master_sae_id="SAE-A",
        slave_sae_ids=["SAE-T"],
        key_ids=[str(uuid.uuid4())],
        size_bits=256,
        link_id="A~T",
        hops=["KME-A"],
    )
    with pytest.raises(SAENotAuthorized):
        chain["T"].receive_relay(message, from_kme_id="KME-B")
    chain["T"].receive_relay(message, from_kme_id="KME-A")
    with pytest.raises(KeyNotFound):  # replay: the link keys are gone
        chain["T"].receive_relay(message, from_kme_id="KME-A")


def test_audit_log_has_ids_never_key_bytes(
    chain: dict[str, KeyManager], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="euroqci.audit"):
        keys = chain["A"].get_enc_keys("SAE-B", master_sae_id="SAE-A")
        chain["B"].get_dec_keys("SAE-A", [keys[0].key_id], slave_sae_id="SAE-B")
    text = caplog.text
    records = [json.loads(r.getMessage()) for r in caplog.records]  # one JSON object a line
    assert text.count(keys[0].key_id) >= 2 and {"role": "slave"}.items() <= records[-1].items()
    assert keys[0].material.hex() not in text
    import base64

    assert base64.b64encode(keys[0].material).decode() not in text


def test_default_manager_serves_local_saes() -> None:
    kme = KeyManager(MemoryKeyStore())
    keys = kme.get_enc_keys("S", master_sae_id="M", number=2)
    assert len({k.key_id for k in keys}) == 2
    with pytest.raises(RelayError):
        KeyManager(MemoryKeyStore(), profile=KMEProfile(remote_saes={"S": "FAR"})).get_enc_keys(
            "S", master_sae_id="M"
        )


def test_file_drop_import(tmp_path: Path, chain: dict[str, KeyManager]) -> None:
    a = chain["A"]
    pairs = [(str(uuid.uuid4()), secrets.token_bytes(32)) for _ in range(4)]
    write_key_file(tmp_path / "batch1.json", "A~T", pairs)
    write_key_file(tmp_path / "wrong-link.json", "X~Y", pairs)
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    assert read_key_file(tmp_path / "batch1.json") == ("A~T", pairs)
    before = a.pool_status("A~T").total_keys
    assert import_key_drop(a, tmp_path) == {"A~T": 4}
    assert a.pool_status("A~T").total_keys == before + 4
    assert not (tmp_path / "batch1.json").exists()
    assert sorted(p.name for p in (tmp_path / "rejected").iterdir()) == [
        "junk.json",
        "wrong-link.json",
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "euroqci-link-keys", "version": 1, "link_id": "A~T",'
        ' "keys": [{"key_ID": "nope", "key": "AA=="}]}',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match=r"keys\[0\]"):
        read_key_file(bad)


def _in_step(x: KeyManager, y: KeyManager, link: str) -> bool:
    px, py = x.pool_status(link), y.pool_status(link)
    return (px.outbound_keys, px.inbound_keys) == (py.inbound_keys, py.outbound_keys)


def test_outbox_tells_an_unreachable_peer_to_discard_later(chain: dict[str, KeyManager]) -> None:
    a, t = chain["A"], chain["T"]
    relay = a.relay
    assert isinstance(relay, InProcessRelay)
    a.get_enc_keys("SAE-B", master_sae_id="SAE-A")
    assert len(a.store.outbox()) == 1  # acknowledged, cleared lazily
    assert a.flush_outbox() == 0 and a.store.outbox() == []
    with relay._lock:
        del relay._managers["KME-T"]  # T goes down
    with pytest.raises(RelayError):
        a.get_enc_keys("SAE-B", master_sae_id="SAE-A")
    assert not _in_step(a, t, "A~T")  # T still holds copies of the link keys A burnt
    assert a.flush_outbox() == 0 and len(a.store.outbox()) == 1  # T still down: kept
    relay.attach(t)
    assert a.flush_outbox() == 1 and a.store.outbox() == []
    assert _in_step(a, t, "A~T")


def test_outbox_survives_a_crash_between_consumption_and_sending(
    chain: dict[str, KeyManager],
) -> None:
    a, t = chain["A"], chain["T"]
    # What a crash leaves behind: link keys consumed with their outbox entry, nothing sent.
    a.store.take_link_keys("A~T", n_bytes=64, outbox_id="crashed")
    restarted = KeyManager(a.store, profile=a.profile, relay=a.relay)
    assert restarted.flush_outbox() == 1
    assert _in_step(a, t, "A~T")


def test_outbox_flush_never_discards_a_relay_in_flight(tmp_path: Path) -> None:
    import threading

    from euroqci.kms.sqlstore import SQLiteKeyStore

    chain = make_chain(lambda name: SQLiteKeyStore(tmp_path / f"{name}.db"))
    a, t, b = chain["A"], chain["T"], chain["B"]
    supply([a, t], "A~T", 1500)
    supply([t, b], "T~B", 1500)
    stop = threading.Event()
    failures: list[Exception] = []

    def flusher() -> None:
        while not stop.is_set():
            for m in (a, t):
                m.flush_outbox()

    def master() -> None:
        for _ in range(40):
            try:
                a.get_enc_keys("SAE-B", master_sae_id="SAE-A")
            except RelayError as exc:
                failures.append(exc)

    background = threading.Thread(target=flusher)
    background.start()
    workers = [threading.Thread(target=master) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    background.join()
    assert failures == []
    a.flush_outbox()
    t.flush_outbox()
    assert a.store.outbox() == [] and t.store.outbox() == []
    assert _in_step(a, t, "A~T") and _in_step(t, b, "T~B")


def test_relay_header_bytes_stay_the_same_canonical_json() -> None:
    # What the tag covers: changing these bytes would make KMEs of different versions refuse
    # each other's relay messages.
    message = RelayMessage(
        batch_id="b", origin_kme_id="KME-A", destination_kme_id="KME-B", master_sae_id="SAE-A",
        slave_sae_ids=("SAE-B", "SA\u00c9"), key_ids=("k1",), size_bits=256, link_id="A~B",
        link_key_ids=("l1", "l2"), hops=("KME-A",), ciphertext=b"x", tag=b"y",
    )  # fmt: skip
    assert message.header_bytes() == (
        b'{"batch_id":"b","destination_kme_id":"KME-B","hops":["KME-A"],"key_ids":["k1"],'
        b'"link_id":"A~B","link_key_ids":["l1","l2"],"master_sae_id":"SAE-A",'
        b'"origin_kme_id":"KME-A","size_bits":256,"slave_sae_ids":["SAE-B","SA\\u00c9"]}'
    )
