"""Ed25519 signing of a report's manifest (``forensics keys create``, ``analyze --sign-key``, ``verify --public-key``).

A report folder is only *self-consistent* by itself: whoever can edit ``report.html`` can also rewrite
``manifest.sha256``. Two things make tampering visible to a third party:

* the manifest's SHA-256, printed by ``forensics analyze`` and kept out of band (case notes, e-mail,
  ``--seal-log``), checked with ``forensics verify DIR --manifest-sha256 HEX``;
* a detached Ed25519 signature of the manifest (``manifest.sha256.sig``), made with the examiner's
  private key and checked with the public key: ``forensics verify DIR --public-key KEY.pub``.

Keys are PEM files written by :func:`create_keys` (private key PKCS#8, mode 0600; public key
SubjectPublicKeyInfo). The signature file is JSON: algorithm, the manifest's SHA-256, the public key's
fingerprint (SHA-256 of its 32 raw bytes) and the base64 signature over the manifest's exact bytes.
Uses the ``cryptography`` package (OpenSSL).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SIGNATURE_FILE = "manifest.sha256.sig"
PRIVATE_NAME = "forensics-signing.key"
PUBLIC_NAME = "forensics-signing.pub"
ALGORITHM = "Ed25519"


class SigningKeyError(Exception):
    """A key file is missing, unreadable or not an Ed25519 key."""


def _raw_public(pub) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(pub) -> str:
    """SHA-256 of the 32 raw bytes of an Ed25519 public key (hex)."""
    return hashlib.sha256(_raw_public(pub)).hexdigest()


def create_keys(directory: Path, overwrite: bool = False) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair into ``directory``; return (private path, public path, fingerprint)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if not overwrite and (priv_path.exists() or pub_path.exists()):
        raise SigningKeyError(f"{priv_path} or {pub_path} already exists; refusing to replace a key")
    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(priv_path, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(priv)
    os.chmod(priv_path, 0o600)
    pub_path.write_bytes(pub)
    return priv_path, pub_path, fingerprint(key.public_key())


def load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"cannot read private key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"cannot read public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 public key")
    return key


def sign_manifest(manifest: bytes, key) -> bytes:
    """The signature file's bytes for ``manifest`` (the exact bytes of ``manifest.sha256``)."""
    sig = key.sign(manifest)
    doc = {"algorithm": ALGORITHM, "signed_file": "manifest.sha256",
           "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
           "public_key_sha256": fingerprint(key.public_key()),
           "signature": base64.b64encode(sig).decode("ascii")}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass
class SignatureCheck:
    ok: bool
    message: str


def check_signature(manifest: bytes, signature_file: bytes, pub) -> SignatureCheck:
    """Check a signature file against the manifest's bytes and a public key."""
    from cryptography.exceptions import InvalidSignature

    try:
        doc = json.loads(signature_file.decode("utf-8"))
        sig = base64.b64decode(doc["signature"], validate=True)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return SignatureCheck(False, f"{SIGNATURE_FILE} is not a valid signature file ({exc})")
    if doc.get("algorithm") != ALGORITHM:
        return SignatureCheck(False, f"{SIGNATURE_FILE}: unsupported algorithm {doc.get('algorithm')!r}")
    fp = fingerprint(pub)
    try:
        pub.verify(sig, manifest)
    except InvalidSignature:
        other = doc.get("public_key_sha256")
        why = " (it was made with another key)" if other and other != fp else ""
        return SignatureCheck(False, f"signature of manifest.sha256 does NOT verify with key {fp[:16]}…{why}")
    return SignatureCheck(True, f"manifest.sha256 signed with Ed25519 key {fp[:16]}… (signature verifies)")
