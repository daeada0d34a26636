"""The suite's signing keys and TLS authority, and tokens signed as the Bot Framework signs them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

KEY_ID = "container-test-key"
HOSTS = ("login.botframework.com", "login.microsoftonline.com")


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(subject: str, key: rsa.RSAPrivateKey, issuer: x509.Name | None, signer: rsa.RSAPrivateKey,
                 *, authority: bool) -> x509.Certificate:  # fmt: skip
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
    )  # fmt: skip
    if authority:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)  # fmt: skip
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in HOSTS]), critical=False)
    return builder.sign(signer, hashes.SHA256())


class SigningKeys:
    """What the fake keys endpoint serves (in `folder`), and tokens signed with the key it publishes."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        self.signing = _key()
        authority_key, server_key = _key(), _key()
        authority = _certificate("sobot container suite", authority_key, None, authority_key, authority=True)
        server = _certificate(HOSTS[0], server_key, authority.subject, authority_key, authority=False)
        pem = serialization.Encoding.PEM
        private = server_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption())  # fmt: skip
        jwk = {
            **json.loads(RSAAlgorithm.to_jwk(self.signing.public_key())),
            "kid": KEY_ID,
            "use": "sig",
            "alg": "RS256",
        }
        files = {"ca.pem": authority.public_bytes(pem), "server.pem": server.public_bytes(pem), "server.key": private,
                 "jwks.json": json.dumps({"keys": [jwk]}).encode()}  # fmt: skip
        for name, content in files.items():
            (folder / name).write_bytes(content)
            (folder / name).chmod(0o644)

    def token(self, audience: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": "https://api.botframework.com", "aud": audience, "iat": now, "nbf": now, "exp": now + 600,
                   **claims}  # fmt: skip
        return jwt.encode(payload, self.signing, algorithm="RS256", headers={"kid": KEY_ID})
