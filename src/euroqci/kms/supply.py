"""Link-key supply: what QKD devices hand to a KME, and the file drop for real devices.

The device emulator, the post-processing engine and the running network call
:meth:`KeyManager.add_link_keys` directly. Real devices export keys to files; a KME imports them
from a drop folder with :func:`import_key_drop`. The file format (``euroqci-link-keys`` v1)::

    {"format": "euroqci-link-keys", "version": 1, "link_id": "A~B",
     "keys": [{"key_ID": "<UUID>", "key": "<base64 (RFC 4648)>"}, ...]}

Both ends of a link import files with the same keys in the same order. A file is deleted after
its keys are committed (key material must not linger on disk); one that cannot be read is moved
to ``rejected/`` beside it, with the reason logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from euroqci.errors import ConfigurationError

if TYPE_CHECKING:
    from euroqci.kms.manager import KeyManager

__all__ = [
    "FORMAT",
    "emulated_link_keys",
    "import_key_drop",
    "read_key_file",
    "supply_link",
    "write_key_file",
]

logger = logging.getLogger(__name__)

FORMAT = "euroqci-link-keys"
VERSION = 1


def read_key_file(path: Path) -> tuple[str, list[tuple[str, bytes]]]:
    """Read a link-key file: its link ID and ``(key_id, material)`` pairs.

    Raises
    ------
    ConfigurationError
        When the file is not a valid ``euroqci-link-keys`` v1 document (names the field).
    """
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ConfigurationError(
            f'{path}: expected "format": "{FORMAT}" and "version": {VERSION}', field="format"
        )
    link_id, items = doc.get("link_id"), doc.get("keys")
    if not isinstance(link_id, str) or not link_id:
        raise ConfigurationError(f"{path}: link_id must be a non-empty string", field="link_id")
    if not isinstance(items, list):
        raise ConfigurationError(f"{path}: keys must be a list", field="keys")
    pairs = []
    for i, item in enumerate(items):
        try:
            key_id = str(uuid.UUID(item["key_ID"]))
            material = base64.b64decode(item["key"], validate=True)
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
            raise ConfigurationError(
                f"{path}: keys[{i}] needs key_ID (a UUID) and key (base64)", field=f"keys[{i}]"
            ) from None
        if not material:
            raise ConfigurationError(f"{path}: keys[{i}].key is empty", field=f"keys[{i}]")
        pairs.append((key_id, material))
    return link_id, pairs


def write_key_file(path: Path, link_id: str, keys: list[tuple[str, bytes]]) -> None:
    """Write keys in the drop format (used by tests and by device emulators)."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "link_id": link_id,
        "keys": [{"key_ID": k, "key": base64.b64encode(m).decode()} for k, m in keys],
    }
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(path)  # the importer never sees a half-written file


def import_key_drop(manager: KeyManager, folder: Path) -> dict[str, int]:
    """Import every ``*.json`` link-key file in ``folder`` into ``manager``'s store.

    Returns the number of keys accepted per link. Files are deleted once imported; files that are
    invalid or name a link this KME does not have are moved to ``folder/rejected``.
    """
    accepted: dict[str, int] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            link_id, pairs = read_key_file(path)
            n = manager.add_link_keys(link_id, pairs)
        except ConfigurationError as exc:
            logger.warning("key drop: rejected %s: %s", path.name, exc)
            rejected = folder / "rejected"
            rejected.mkdir(exist_ok=True)
            path.replace(rejected / path.name)
            continue
        accepted[link_id] = accepted.get(link_id, 0) + n
        if n < len(pairs):
            logger.warning(
                "key drop: %s: %d of %d keys kept (pool full or already held)",
                path.name,
                n,
                len(pairs),
            )
        path.unlink()
    return accepted


def emulated_link_keys(n_keys: int, *, key_size_bits: int = 256) -> list[tuple[str, bytes]]:
    """Keys as an emulated QKD link would hand them to both ends (OS CSPRNG stands in for the
    distilled key; the device emulator and post-processing feed real sessions' keys instead)."""
    import secrets

    if key_size_bits % 8 or key_size_bits <= 0:
        raise ConfigurationError(
            "key_size_bits: give a positive multiple of 8", field="key_size_bits"
        )
    return [(str(uuid.uuid4()), secrets.token_bytes(key_size_bits // 8)) for _ in range(n_keys)]


def supply_link(
    ends: tuple[KeyManager, KeyManager], link_id: str, *, n_keys: int, key_size_bits: int = 256
) -> int:
    """Give both ends of a link the same ``n_keys`` new keys, as far as both pools have room.

    Returns the number of keys added at each end.
    """
    rooms = [m.profile.max_key_count - m.pool_status(link_id).total_keys for m in ends]
    pairs = emulated_link_keys(max(min(n_keys, *rooms), 0), key_size_bits=key_size_bits)
    if not pairs:
        return 0
    return min(m.add_link_keys(link_id, pairs) for m in ends)
