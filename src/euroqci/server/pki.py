"""A development PKI: one CA, KME certificates (server and client) and SAE client certificates.

``euroqci pki init DIR --kme KME-A --sae SAE-A`` writes::

    DIR/ca.pem  DIR/ca-key.pem
    DIR/kme/KME-A.pem  DIR/kme/KME-A-key.pem     CN=KME-A, OU=KME, SAN 127.0.0.1, localhost, KME-A
    DIR/sae/SAE-A.pem  DIR/sae/SAE-A-key.pem     CN=SAE-A, OU=SAE, client authentication only

Keys are ECDSA P-256, private keys are written with mode 0600. Production brings its own PKI.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from euroqci.errors import ConfigurationError

__all__ = ["PKILayout", "init_pki"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class PKILayout:
    """Where ``init_pki`` wrote the CA and each entity's certificate and key."""

    ca: Path
    kmes: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    saes: dict[str, tuple[Path, Path]] = field(default_factory=dict)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EuroQCI development"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             valid_days: int) -> x509.CertificateBuilder:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
    )


def init_pki(
    directory: Path,
    *,
    kme_ids: list[str],
    sae_ids: list[str],
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    valid_days: int = 365,
) -> PKILayout:
    """Create the CA and certificates in ``directory`` (created if missing; files overwritten).

    Raises
    ------
    ConfigurationError
        An ID that is not 1-64 letters, digits, ``.``, ``_`` or ``-``, or an ID given twice.
    """
    ids = [*kme_ids, *sae_ids]
    for entity in ids:
        if not _ID.match(entity):
            raise ConfigurationError(
                f"--kme/--sae: {entity!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
    if len(set(ids)) != len(ids):
        raise ConfigurationError("--kme/--sae: each ID may appear once")
    if not 1 <= valid_days <= 3650:
        raise ConfigurationError("valid_days: give 1 to 3650 days")
    for sub in ("", "kme", "sae"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("EuroQCI development CA", "CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), valid_days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    layout = PKILayout(ca=directory / "ca.pem")
    layout.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(directory / "ca-key.pem", ca_key)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    for role, names, usages in (
        ("kme", kme_ids, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
        ("sae", sae_ids, [ExtendedKeyUsageOID.CLIENT_AUTH]),
    ):
        for entity in names:
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                _builder(_name(entity, role.upper()), ca_name, key.public_key(), valid_days)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
                )
            )
            if role == "kme":
                # The KME ID as a DNS name too: peers verify it in the TLS handshake (SNI).
                names_here = [*sans, x509.DNSName(entity)]
                builder = builder.add_extension(x509.SubjectAlternativeName(names_here), False)
            cert = builder.sign(ca_key, hashes.SHA256())
            cert_path = directory / role / f"{entity}.pem"
            key_path = directory / role / f"{entity}-key.pem"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            _write_key(key_path, key)
            (layout.kmes if role == "kme" else layout.saes)[entity] = (cert_path, key_path)
    return layout
