"""Signing keys for C2PA manifests: a studio's own certificate and key, or a pair made on first start.

C2PA validators refuse a self-signed signing certificate and one without a signing EKU, so the
pair made here is two certificates: a local CA, and a signer it issued with the emailProtection
EKU and digitalSignature key usage. Readers that do not trust that CA (all of them, until a
studio installs its own credentials or adds the CA to its trust list) show the files as signed
but untrusted.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from underpaint.core import ErrorCode
from underpaint.results.credentials.provenance import Credentials, SigningKey

LOCAL_SIGNER_FILE = "local-signer.pem"
"""Key and chain in one file, so two agents starting at once can never pair one's key with the other's chain."""
_LIFETIME = datetime.timedelta(days=3650)
_CURVE_ALGORITHMS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


class CredentialsError(ValueError):
    """Credentials that cannot be used, or a file `verify` cannot read; `code` is its stable code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def load_signing_key(certificate: Path, private_key: Path) -> SigningKey:
    """The studio's signer: `certificate` a PEM chain (signer first), `private_key` its PEM key."""
    chain = _read(certificate, "certificate")
    key = _read(private_key, "private key")
    return _checked(chain, key, f"{certificate} and {private_key}", self_made=False)


def local_signing_key(folder: Path) -> SigningKey:
    """The pair in `folder`, made there (readable by the user only) the first time."""
    path = folder / LOCAL_SIGNER_FILE
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(path, _make_local_pair())
    bundle = _read(path, "local signing credentials")
    key_end = bundle.index(b"-----END PRIVATE KEY-----") + len(b"-----END PRIVATE KEY-----\n")
    return _checked(bundle[key_end:], bundle[:key_end], str(path), self_made=True)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CredentialsError(ErrorCode.BAD_CREDENTIALS,
                               f"Cannot read the C2PA {what} {path}: {error.strerror or error}.") from None


def _checked(chain_pem: bytes, key_pem: bytes, where: str, self_made: bool) -> SigningKey:
    """The pair as a SigningKey, once the key is known to belong to the chain's first certificate."""
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise CredentialsError(ErrorCode.BAD_CREDENTIALS, f"{where}: not a PEM certificate chain and an "
                                                          f"unencrypted PEM private key ({error}).") from None
    signer = chain[0]
    if _public_der(signer.public_key()) != _public_der(key.public_key()):
        raise CredentialsError(ErrorCode.BAD_CREDENTIALS,
                               f"{where}: the private key does not belong to the chain's first certificate.")
    if signer.subject == signer.issuer and _signed_by(signer, signer):
        raise CredentialsError(ErrorCode.BAD_CREDENTIALS,
                               f"{where}: the signing certificate is self-signed, which C2PA validators refuse; "
                               "sign it with a CA and list the CA after it in the chain.")
    return SigningKey(chain_pem, key_pem, _algorithm(key, where), self_made)


def _public_der(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _algorithm(key: object, where: str) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVE_ALGORITHMS:
        return _CURVE_ALGORITHMS[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"  # C2PA allows RSA only with PSS padding.
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise CredentialsError(ErrorCode.BAD_CREDENTIALS,
                           f"{where}: C2PA signs with EC P-256/384/521, RSA (PSS) or Ed25519 keys, not this one.")


def _make_local_pair() -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Underpaint local CA (self-made, untrusted)")
    ca = (_certificate(ca_name, ca_name, ca_key.public_key(), now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(sign_certificates=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (_certificate(_name("Underpaint on this machine"), ca_name, key.public_key(), now)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(_key_usage(sign_certificates=False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem + signer.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Underpaint")])


def _certificate(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
                 now: datetime.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + _LIFETIME)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _key_usage(sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not sign_certificates, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=sign_certificates,
                         crl_sign=sign_certificates, encipher_only=False, decipher_only=False)


def _write_private(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def configured_credentials(disclosure: bool, manifest: bool, certificate: Path | None, private_key: Path | None,
                           trust_anchors: Path | None, local_folder: Path) -> Credentials:
    """The Credentials a user's settings describe: signed with `certificate` and `private_key` when
    both are set, else with the local pair in `local_folder` (made there on first use)."""
    key = None
    if manifest:
        if certificate is not None and private_key is not None:
            key = load_signing_key(certificate, private_key)
        elif certificate is not None or private_key is not None:
            raise CredentialsError(ErrorCode.BAD_CREDENTIALS, "Set both c2pa_certificate and c2pa_private_key "
                                                              "(or neither, to sign with the local pair).")
        else:
            key = local_signing_key(local_folder)
    anchors = _read(trust_anchors, "trust anchors") if trust_anchors is not None else None
    return Credentials(disclosure=disclosure, signing_key=key, trust_anchors=anchors)
