"""EC2 key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair,
and `key_for_launch`, the key pair a launch names.

A key pair is per account and region, known by its name or its id. Only the
public half is kept (OpenSSH text, the key name as its comment); the private
key CreateKeyPair makes is answered once and never stored. Private keys come
as AWS gives them: RSA in PKCS#1 PEM, ED25519 in OpenSSH's format, or either
as a PuTTY key file (PPK version 2, unencrypted). Fingerprints are AWS's: for
an RSA key it made, SHA-1 of the private key in PKCS#8 DER; for an imported
RSA key, MD5 of the public key in DER; for ED25519, SHA-256 of the SSH public
key blob in padded base64. ImportKeyPair takes an OpenSSH public key (RSA or
ED25519) or an RSA key in RFC 4716 format or base64 DER, as AWS documents.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_public_key,
    load_ssh_public_key,
)
from sqlalchemy import Column, Connection, select
from sqlalchemy.exc import IntegrityError

from amiable.catalog.regional import key_pairs
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value, missing_parameter
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.tags import apply_specifications, delete_tags_of, tags_of

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

MAX_NAME = 255
CREATED_RSA_BITS = 2048
IMPORTED_RSA_BITS = (1024, 4096)
RESOURCE_TYPE = "key-pair"
_RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"
_PPK_MAC_KEY = hashlib.sha1(b"putty-private-key-file-mac-key", usedforsecurity=False).digest()
_PPK_LINE = 64


def _region(ctx: Context) -> Region:
    region: Region = ctx.cloud.region(ctx.region)
    return region


def _checked_name(params: dict[str, Any]) -> str:
    name = str(params.get("KeyName") or "")
    if not name:
        raise missing_parameter("KeyName")
    printable = all(" " <= c <= "~" for c in name)
    if len(name) > MAX_NAME or not printable or name != name.strip():
        raise invalid_value(
            "KeyName", name, f"up to {MAX_NAME} ASCII characters, no leading or trailing spaces"
        )
    return name


def _choice(params: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = str(params.get(name) or allowed[0])
    if value not in allowed:
        raise invalid_value(name, value, f"one of {', '.join(allowed)}")
    return value


def _bad_key() -> ApiError:
    return ApiError("InvalidKey.Format", "Key is not in valid OpenSSH public key format")


# SSH wire encoding (RFC 4251, section 5)


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _mpint(n: int) -> bytes:
    """A positive integer, with the leading zero byte that keeps it positive."""
    return _string(n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _openssh(public: PublicKey) -> str:
    return public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _blob(public: PublicKey) -> bytes:
    return base64.b64decode(_openssh(public).split()[1])


def _key_type(public: PublicKey) -> str:
    return "rsa" if isinstance(public, rsa.RSAPublicKey) else "ed25519"


# fingerprints


def _colons(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def _sha256_fingerprint(public: PublicKey) -> str:
    return base64.b64encode(hashlib.sha256(_blob(public)).digest()).decode()


def _created_fingerprint(private: PrivateKey) -> str:
    if isinstance(private, rsa.RSAPrivateKey):
        der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        return _colons(hashlib.sha1(der, usedforsecurity=False).digest())
    return _sha256_fingerprint(private.public_key())


def _imported_fingerprint(public: PublicKey) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return _colons(hashlib.md5(der, usedforsecurity=False).digest())
    return _sha256_fingerprint(public)


# private key material


def _ppk_private_blob(private: PrivateKey) -> bytes:
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.private_numbers()  # iqmp is q^-1 mod p, as PuTTY wants it
        return b"".join(_mpint(v) for v in (numbers.d, numbers.p, numbers.q, numbers.iqmp))
    return _string(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def _ppk_lines(label: str, blob: bytes) -> list[str]:
    text = base64.b64encode(blob).decode()
    rows = [text[i : i + _PPK_LINE] for i in range(0, len(text), _PPK_LINE)]
    return [f"{label}-Lines: {len(rows)}", *rows]


def _ppk(private: PrivateKey, comment: str) -> str:
    """PuTTY's key file, version 2, unencrypted (PuTTY manual, appendix C): the
    MAC is HMAC-SHA-1, keyed by SHA-1 of a fixed text and the empty passphrase,
    over the algorithm, encryption, comment and both blobs."""
    public_blob = _blob(private.public_key())
    algorithm = _openssh(private.public_key()).split()[0]
    private_blob = _ppk_private_blob(private)
    fields = (algorithm.encode(), b"none", comment.encode(), public_blob, private_blob)
    mac = hmac.new(_PPK_MAC_KEY, b"".join(_string(f) for f in fields), hashlib.sha1)
    lines = [
        f"PuTTY-User-Key-File-2: {algorithm}",
        "Encryption: none",
        f"Comment: {comment}",
        *_ppk_lines("Public", public_blob),
        *_ppk_lines("Private", private_blob),
        f"Private-MAC: {mac.hexdigest()}",
    ]
    return "\n".join(lines) + "\n"


def _material(private: PrivateKey, key_format: str, name: str) -> str:
    if key_format == "ppk":
        return _ppk(private, name)
    rsa_key = isinstance(private, rsa.RSAPrivateKey)
    form = PrivateFormat.TraditionalOpenSSL if rsa_key else PrivateFormat.OpenSSH
    return private.private_bytes(Encoding.PEM, form, NoEncryption()).decode()


def _generate(key_type: str) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=CREATED_RSA_BITS)
    return ed25519.Ed25519PrivateKey.generate()


# imported public keys


def _rsa_only(key: object) -> rsa.RSAPublicKey:
    if not isinstance(key, rsa.RSAPublicKey):
        raise _bad_key()
    return key


def _rfc4716_blob(text: str) -> bytes:
    """The key blob of an RFC 4716 file: the lines between BEGIN and END that
    are not headers (`Tag: value`, continued by a trailing backslash)."""
    lines = [line.strip() for line in text.splitlines()]
    if lines[-1] != _RFC4716_END:
        raise ValueError("no END line")
    body, continued = [], False
    for line in lines[1:-1]:
        if continued or ":" in line:
            continued = line.endswith("\\")
        else:
            body.append(line)
    return base64.b64decode("".join(body), validate=True)


def _from_blob(blob: bytes) -> object:
    algorithm = blob[4 : 4 + int.from_bytes(blob[:4], "big")]
    return load_ssh_public_key(algorithm + b" " + base64.b64encode(blob))


def _parsed(text: str) -> object:
    """The public key in `text` (OpenSSH, RFC 4716 or DER), of whatever kind
    this cryptography release can load: the caller checks which."""
    if text.startswith(_RFC4716_BEGIN):
        return _rsa_only(_from_blob(_rfc4716_blob(text)))
    if " " in text:
        return load_ssh_public_key(text.encode())
    return _rsa_only(load_der_public_key(base64.b64decode("".join(text.split()), validate=True)))


def _imported_key(material: bytes) -> PublicKey:
    try:
        key = _parsed(material.decode("ascii").strip())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _bad_key() from exc
    low, high = IMPORTED_RSA_BITS
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, rsa.RSAPublicKey) and low <= key.key_size <= high:
        return key
    raise _bad_key()


# the catalog


def _store(
    ctx: Context, params: dict[str, Any], name: str, fingerprint: str, public: PublicKey
) -> dict[str, Any]:
    """Record a key pair's public half (and its tags); answer as Create and Import do."""
    key_pair_id = new_id("key")
    with _region(ctx).catalog.begin() as conn:
        try:
            conn.execute(
                key_pairs.insert().values(
                    key_pair_id=key_pair_id,
                    owner_id=ctx.account_id,
                    key_name=name,
                    key_type=_key_type(public),
                    fingerprint=fingerprint,
                    public_key=f"{_openssh(public)} {name}",
                    created=ctx.cloud.clock.now(),
                )
            )
        except IntegrityError as exc:
            raise ApiError(
                "InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists."
            ) from exc
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), RESOURCE_TYPE, key_pair_id, ctx.account_id
        )
    shown: dict[str, Any] = {
        "KeyPairId": key_pair_id,
        "KeyName": name,
        "KeyFingerprint": fingerprint,
    }
    if tags:
        shown["Tags"] = tags
    return shown


def _find(conn: Connection, owner_id: str, column: Column[str], value: str) -> Any:
    return conn.execute(
        select(key_pairs).where(key_pairs.c.owner_id == owner_id, column == value)
    ).first()


def _not_found(name: str) -> ApiError:
    return ApiError("InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist")


def _id_not_found(key_pair_id: str) -> ApiError:
    return ApiError("InvalidKeyPair.NotFound", f"The key pair ID '{key_pair_id}' does not exist")


def key_for_launch(conn: Connection, owner_id: str, key_name: str) -> Any:
    """The key pair row a launch names by KeyName; NotFound as RunInstances says it."""
    row = _find(conn, owner_id, key_pairs.c.key_name, key_name)
    if row is None:
        raise _not_found(key_name)
    return row


# the actions


@action("ec2", "CreateKeyPair")
def create_key_pair(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = _checked_name(params)
    key_type = _choice(params, "KeyType", ("rsa", "ed25519"))
    key_format = _choice(params, "KeyFormat", ("pem", "ppk"))
    private = _generate(key_type)
    shown = _store(ctx, params, name, _created_fingerprint(private), private.public_key())
    return {**shown, "KeyMaterial": _material(private, key_format, name)}


@action("ec2", "ImportKeyPair")
def import_key_pair(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = _checked_name(params)
    public = _imported_key(params["PublicKeyMaterial"])
    return _store(ctx, params, name, _imported_fingerprint(public), public)


def _shown(row: Any, tags: list[dict[str, str]], with_public_key: bool) -> dict[str, Any]:
    shown = {
        "KeyPairId": row.key_pair_id,
        "KeyFingerprint": row.fingerprint,
        "KeyName": row.key_name,
        "KeyType": row.key_type,
        "Tags": tags,
        "CreateTime": row.created,
    }
    if with_public_key:
        shown["PublicKey"] = row.public_key
    return shown


_FILTERS = {
    "key-pair-id": field("KeyPairId"),
    "key-name": field("KeyName"),
    "fingerprint": field("KeyFingerprint"),
    "key-type": field("KeyType"),
}


def _all_there(wanted: list[str], known: set[str], not_found: Callable[[str], ApiError]) -> None:
    for value in wanted:
        if value not in known:
            raise not_found(value)


@action("ec2", "DescribeKeyPairs")
def describe_key_pairs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The caller's key pairs (those named, by name and by id, if any are:
    NotFound for one that is not there), filtered."""
    mine = select(key_pairs).where(key_pairs.c.owner_id == ctx.account_id)
    with _region(ctx).catalog.connect() as conn:
        rows = conn.execute(mine.order_by(key_pairs.c.key_name)).all()
        tags = tags_of(conn, [r.key_pair_id for r in rows])
    names, ids = params.get("KeyNames") or [], params.get("KeyPairIds") or []
    _all_there(names, {r.key_name for r in rows}, _not_found)
    _all_there(ids, {r.key_pair_id for r in rows}, _id_not_found)
    with_public_key = bool(params.get("IncludePublicKey"))
    chosen = [
        _shown(r, tags[r.key_pair_id], with_public_key)
        for r in rows
        if (not names or r.key_name in names) and (not ids or r.key_pair_id in ids)
    ]
    results, _ = filtered_page(chosen, params, _FILTERS, "KeyName")
    return {"KeyPairs": results}


@action("ec2", "DeleteKeyPair")
def delete_key_pair(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """By KeyPairId (NotFound when there is none) or else by KeyName (a name
    that is not there is deleted already: success, as on AWS)."""
    key_pair_id, name = str(params.get("KeyPairId") or ""), str(params.get("KeyName") or "")
    if not key_pair_id and not name:
        raise ApiError(
            "MissingParameter", "The request must contain the parameter KeyName or KeyPairId"
        )
    by_id = (key_pairs.c.key_pair_id, key_pair_id)
    column, value = by_id if key_pair_id else (key_pairs.c.key_name, name)
    with _region(ctx).catalog.begin() as conn:
        row = _find(conn, ctx.account_id, column, value)
        if row is None and key_pair_id:
            raise _id_not_found(key_pair_id)
        if row is None:
            return {"Return": True}
        conn.execute(key_pairs.delete().where(key_pairs.c.key_pair_id == row.key_pair_id))
        delete_tags_of(conn, row.key_pair_id)
    return {"Return": True, "KeyPairId": row.key_pair_id}
