"""KME settings: one pydantic-settings class, from a TOML file and ``EUROQCI_KME_*`` variables.

Validated at startup. Outside development (``dev = false``) the KME refuses an in-memory store
and missing TLS files, and always requires client certificates.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from euroqci.errors import ConfigurationError
from euroqci.kms.profile import KMEProfile, Link

__all__ = ["IdentityAttribute", "KMESettings", "LinkSettings", "load_settings"]


class IdentityAttribute(enum.Enum):
    """Which part of the verified client certificate names the SAE."""

    COMMON_NAME = "commonName"
    SERIAL_NUMBER = "serialNumber"


class LinkSettings(BaseModel):
    """A QKD link to a neighbouring KME and where that KME listens."""

    link_id: str = Field(min_length=1)
    peer_kme_id: str = Field(min_length=1)
    peer_url: str = Field(pattern=r"^https://")


class KMESettings(BaseSettings):
    """Everything one KME needs to run; see ``examples/kme/*.toml``."""

    model_config = SettingsConfigDict(env_prefix="EUROQCI_KME_", extra="forbid")

    kme_id: str = Field(min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    cert_file: Path
    key_file: Path
    ca_file: Path
    store: str = Field(default="sqlite:///kme.db", repr=False)  # a DSN may hold a password
    saes: list[str] = Field(default_factory=list)
    remote_saes: dict[str, str] = Field(default_factory=dict)
    links: list[LinkSettings] = Field(default_factory=list)
    routes: dict[str, str] = Field(default_factory=dict)
    default_key_size_bits: int = Field(default=256, ge=8)
    min_key_size_bits: int = Field(default=64, ge=8)
    max_key_size_bits: int = Field(default=4096, ge=8)
    max_keys_per_request: int = Field(default=128, ge=1)
    max_key_count: int = Field(default=100_000, ge=1)
    max_sae_id_count: int = Field(default=8, ge=0)
    max_key_age_s: float = Field(default=86_400.0, gt=0)
    housekeeping_interval_s: float = Field(default=60.0, gt=0)
    identity_attribute: IdentityAttribute = IdentityAttribute.COMMON_NAME
    kme_peer_unit: str = "KME"
    audit_log: Path | None = None
    key_drop_dir: Path | None = None
    key_drop_interval_s: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_concurrent_requests: int = Field(default=64, ge=1, le=10_000)
    dev: bool = False

    @model_validator(mode="after")
    def _secure(self) -> KMESettings:
        if not self.dev and self.store == "memory:":
            raise ValueError("store = 'memory:' loses every key on restart; set dev = true")
        if not self.dev:
            for name in ("cert_file", "key_file", "ca_file"):
                if not Path(getattr(self, name)).is_file():
                    raise ValueError(f"{name}: {getattr(self, name)} is not a file")
        sizes = (self.min_key_size_bits, self.default_key_size_bits, self.max_key_size_bits)
        if not sizes[0] <= sizes[1] <= sizes[2] or any(s % 8 for s in sizes):
            raise ValueError("key sizes: need min <= default <= max bits, multiples of 8")
        link_ids = {link.link_id for link in self.links}
        for dest, link_id in self.routes.items():
            if link_id not in link_ids:
                raise ValueError(f"routes.{dest}: no link {link_id!r}")
        return self

    def profile(self) -> KMEProfile:
        """The key-manager profile these settings describe."""
        return KMEProfile(
            kme_id=self.kme_id,
            local_sae_ids=frozenset(self.saes),
            remote_saes=dict(self.remote_saes),
            links=tuple(Link(s.link_id, s.peer_kme_id) for s in self.links),
            routes=dict(self.routes),
            default_key_size_bits=self.default_key_size_bits,
            min_key_size_bits=self.min_key_size_bits,
            max_key_size_bits=self.max_key_size_bits,
            max_keys_per_request=self.max_keys_per_request,
            max_key_count=self.max_key_count,
            max_sae_id_count=self.max_sae_id_count,
            max_key_age_s=self.max_key_age_s,
        )


def _resolve(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths in a config file are relative to the file's folder."""
    out = dict(data)
    for name in ("cert_file", "key_file", "ca_file", "audit_log", "key_drop_dir"):
        if isinstance(out.get(name), str) and not Path(out[name]).is_absolute():
            out[name] = str(base / out[name])
    store = out.get("store")
    if isinstance(store, str) and store.startswith("sqlite:///"):
        path = Path(store.removeprefix("sqlite:///"))
        if not path.is_absolute():
            out["store"] = f"sqlite:///{base / path}"
    return out


def load_settings(path: Path | None = None, **overrides: Any) -> KMESettings:
    """Settings from a TOML file (paths relative to it), then overrides; env fills the rest.

    Raises
    ------
    ConfigurationError
        Naming the first invalid field.
    """
    data: dict[str, Any] = {}
    if path is not None:
        import tomllib

        try:
            data = _resolve(tomllib.loads(path.read_text(encoding="utf-8")), path.parent)
        except OSError as exc:
            raise ConfigurationError(f"config: cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config: {path} is not valid TOML: {exc}") from None
    try:
        return KMESettings(**{**data, **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise ConfigurationError(f"{where}: {err['msg']}", field=where) from None
