"""EC2 key pairs through real boto3 clients: created keys in each type and
format, read back by OpenSSH, OpenSSL and PuTTY's own tools, with AWS's
fingerprints computed independently by those tools; imported public keys;
describing, deleting, other accounts, and the private key never kept."""

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_ssh_private_key,
    load_ssh_public_key,
)

import amiable
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.cloud.network.key_pairs import key_for_launch
from api_helpers import OTHER, cloud_with_other_account, code_of, error_of

REGION = "eu-west-1"
ACCOUNT = "000000000000"
SSH_NAMES = {"rsa": "ssh-rsa", "ed25519": "ssh-ed25519"}
BAD_KEY = {
    "Code": "InvalidKey.Format",
    "Message": "Key is not in valid OpenSSH public key format",
}


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region=REGION).client("ec2")


@pytest.fixture
def other(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")


@pytest.fixture
def puttygen() -> str:
    found = shutil.which("puttygen")
    if found is None:
        pytest.skip("puttygen is not installed (Debian package putty-tools): cannot check PPK")
    return found


# independent tools


def run(*command: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(command, input=stdin, capture_output=True, check=True).stdout


def openssl_digest(algorithm: str, data: bytes) -> str:
    """`openssl <algorithm> -c`: hex with colons (its output is `NAME(stdin)= aa:bb...`)."""
    return run("openssl", algorithm, "-c", stdin=data).decode().split("= ")[1].strip()


def sha1_of_pkcs8(private_key: Path) -> str:
    """AWS's fingerprint of an RSA key it made, as AWS tells users to compute it."""
    der = run("openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", str(private_key))
    return openssl_digest("sha1", der)


def md5_of_public_der(public_key: Path) -> str:
    """AWS's fingerprint of an imported RSA key: MD5 of the DER public key."""
    pem = run("ssh-keygen", "-e", "-m", "PKCS8", "-f", str(public_key))
    return openssl_digest("md5", public_der(pem))


def public_der(pem: bytes) -> bytes:
    return run("openssl", "pkey", "-pubin", "-outform", "DER", stdin=pem)


def sha256_of_blob(key_file: Path) -> str:
    """ssh-keygen's SHA-256 fingerprint with the base64 padding AWS keeps."""
    shown = run("ssh-keygen", "-l", "-E", "sha256", "-f", str(key_file)).decode().split()[1]
    return shown.removeprefix("SHA256:") + "="


def created_fingerprint(private_key: Path, key_type: str) -> str:
    return sha1_of_pkcs8(private_key) if key_type == "rsa" else sha256_of_blob(private_key)


def saved(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(0o600)
    return path


def ssh_keygen(path: Path, key_type: str) -> Path:
    """A key made by ssh-keygen (RSA: 2048 bits, quick to make); returns its `.pub` file."""
    size = ["-b", "2048"] if key_type == "rsa" else []
    run("ssh-keygen", "-q", "-t", key_type, *size, "-N", "", "-C", "me@host", "-f", str(path))
    return path.with_suffix(".pub")


def key_part(openssh_line: str) -> str:
    """`type base64` of an OpenSSH public key line, without its comment."""
    return " ".join(openssh_line.split()[:2])


def described(ec2: Any, name: str) -> dict[str, Any]:
    pairs = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    assert len(pairs) == 1
    return dict(pairs[0])


def assert_signs_for(private_key: Path, public_line: str) -> None:
    """An ED25519 private key (OpenSSH format) signs what the public key verifies."""
    private = load_ssh_private_key(private_key.read_bytes(), password=None)
    public = load_ssh_public_key(public_line.encode())
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(private.sign(b"hello"), b"hello")


# created keys


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_created_pem_keys_are_what_openssh_and_openssl_read(
    ec2: Any, tmp_path: Path, key_type: str
) -> None:
    created = ec2.create_key_pair(KeyName=f"{key_type}-pem", KeyType=key_type)
    assert created["KeyPairId"].startswith("key-") and len(created["KeyPairId"]) == 21
    material = created["KeyMaterial"]
    private_file = saved(tmp_path / "key.pem", material)
    if key_type == "rsa":
        assert material.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
        key = load_pem_private_key(material.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    else:
        assert material.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        assert isinstance(load_ssh_private_key(material.encode(), None), ed25519.Ed25519PrivateKey)
    shown = described(ec2, f"{key_type}-pem")
    assert shown["KeyType"] == key_type
    assert (
        shown["PublicKey"]
        == f"{run('ssh-keygen', '-y', '-f', str(private_file)).decode().strip()} {key_type}-pem"
    )
    assert created["KeyFingerprint"] == shown["KeyFingerprint"]
    assert created["KeyFingerprint"] == created_fingerprint(private_file, key_type)
    if key_type == "ed25519":
        assert_signs_for(private_file, shown["PublicKey"])


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_created_ppk_keys_are_what_puttygen_reads(
    ec2: Any, tmp_path: Path, puttygen: str, key_type: str
) -> None:
    created = ec2.create_key_pair(KeyName=f"{key_type}-ppk", KeyType=key_type, KeyFormat="ppk")
    material = created["KeyMaterial"]
    assert material.splitlines()[:3] == [
        f"PuTTY-User-Key-File-2: {SSH_NAMES[key_type]}",
        "Encryption: none",
        f"Comment: {key_type}-ppk",
    ]
    ppk = saved(tmp_path / "key.ppk", material)
    shown = described(ec2, f"{key_type}-ppk")
    # puttygen checks the file's MAC before it shows anything
    assert run(puttygen, str(ppk), "-L").decode().strip() == shown["PublicKey"]
    exported = tmp_path / "exported"
    run(puttygen, str(ppk), "-O", "private-openssh", "-o", str(exported))
    exported.chmod(0o600)
    assert created["KeyFingerprint"] == created_fingerprint(exported, key_type)
    if key_type == "ed25519":
        assert_signs_for(exported, shown["PublicKey"])


def test_a_created_key_is_tagged_and_its_private_key_answered_once(ec2: Any) -> None:
    created = ec2.create_key_pair(
        KeyName="tagged",
        KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    assert created["Tags"] == [{"Key": "team", "Value": "a"}]
    shown = described(ec2, "tagged")
    assert "KeyMaterial" not in shown
    assert shown["Tags"] == [{"Key": "team", "Value": "a"}]
    wrong_type = [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "a"}]}]
    assert (
        code_of(ec2.create_key_pair, KeyName="other", TagSpecifications=wrong_type)
        == "InvalidParameterValue"
    )
    assert [p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"]] == ["tagged"]


def test_key_names_types_and_formats_are_checked(ec2: Any) -> None:
    ec2.create_key_pair(KeyName="k" * 255, KeyType="ed25519")
    for bad in ("k" * 256, "clé", " leading", "trailing ", "new\nline"):
        assert code_of(ec2.create_key_pair, KeyName=bad, KeyType="ed25519") == (
            "InvalidParameterValue"
        ), bad
    assert code_of(ec2.create_key_pair, KeyName="") == "MissingParameter"
    assert code_of(ec2.create_key_pair, KeyName="x", KeyType="dsa") == "InvalidParameterValue"
    assert code_of(ec2.create_key_pair, KeyName="x", KeyFormat="der") == "InvalidParameterValue"
    assert [p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"]] == ["k" * 255]


def test_a_dry_run_creates_nothing(ec2: Any) -> None:
    assert code_of(ec2.create_key_pair, KeyName="dry", DryRun=True) == "DryRunOperation"
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_a_name_is_taken_once_per_account_and_region(ec2: Any, other: Any, cloud: Cloud) -> None:
    ec2.create_key_pair(KeyName="mine", KeyType="ed25519")
    duplicate = {
        "Code": "InvalidKeyPair.Duplicate",
        "Message": "The keypair 'mine' already exists.",
    }
    public = described(ec2, "mine")["PublicKey"].encode()
    for call, params in (
        (ec2.create_key_pair, {}),
        (ec2.import_key_pair, {"PublicKeyMaterial": public}),
    ):
        got = error_of(call, KeyName="mine", **params)
        assert {k: got[k] for k in ("Code", "Message")} == duplicate
    other.create_key_pair(KeyName="mine", KeyType="ed25519")
    elsewhere = amiable.Session(cloud=cloud, region="us-east-2").client("ec2")
    elsewhere.import_key_pair(KeyName="mine", PublicKeyMaterial=public)
    assert len(ec2.describe_key_pairs()["KeyPairs"]) == 1


# imported keys


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_imported_openssh_keys_have_aws_fingerprints(
    ec2: Any, tmp_path: Path, key_type: str
) -> None:
    public_file = ssh_keygen(tmp_path / "id", key_type)
    imported = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=public_file.read_bytes())
    assert "KeyMaterial" not in imported
    expected = md5_of_public_der(public_file) if key_type == "rsa" else sha256_of_blob(public_file)
    assert imported["KeyFingerprint"] == expected
    shown = described(ec2, "laptop")
    assert (shown["KeyType"], shown["KeyFingerprint"]) == (key_type, expected)
    assert shown["PublicKey"] == f"{key_part(public_file.read_text())} laptop"


def test_an_rsa_key_imports_from_rfc4716_and_base64_der_too(ec2: Any, tmp_path: Path) -> None:
    public_file = ssh_keygen(tmp_path / "id", "rsa")
    rfc4716 = run("ssh-keygen", "-e", "-f", str(public_file))
    assert rfc4716.startswith(b"---- BEGIN SSH2 PUBLIC KEY ----")
    pem = run("ssh-keygen", "-e", "-m", "PKCS8", "-f", str(public_file))
    der_base64 = base64.encodebytes(public_der(pem))  # in lines, as a file holds it
    materials = {"openssh": public_file.read_bytes(), "rfc4716": rfc4716, "der": der_base64}
    for name, material in materials.items():
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)
    shown = ec2.describe_key_pairs(IncludePublicKey=True)["KeyPairs"]
    assert {p["KeyFingerprint"] for p in shown} == {md5_of_public_der(public_file)}
    assert {key_part(p["PublicKey"]) for p in shown} == {key_part(public_file.read_text())}


def test_an_imported_rsa_key_is_1024_to_4096_bits(ec2: Any) -> None:
    def openssh_rsa(bits: int) -> bytes:  # a public key of that size (no private half needed)
        public = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 1).public_key()
        return public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)

    for bits in (1024, 3072, 4096):
        ec2.import_key_pair(KeyName=f"rsa-{bits}", PublicKeyMaterial=openssh_rsa(bits))
    for bits in (768, 4104):
        got = error_of(
            ec2.import_key_pair, KeyName=f"rsa-{bits}", PublicKeyMaterial=openssh_rsa(bits)
        )
        assert {k: got[k] for k in ("Code", "Message")} == BAD_KEY, bits
    assert len(ec2.describe_key_pairs()["KeyPairs"]) == 3


def test_material_that_is_no_supported_public_key_is_refused(ec2: Any, tmp_path: Path) -> None:
    ecdsa = ssh_keygen(tmp_path / "ecdsa", "ecdsa").read_bytes()
    ed25519_file = ssh_keygen(tmp_path / "ed", "ed25519")
    ed25519_rfc4716 = run("ssh-keygen", "-e", "-f", str(ed25519_file))  # RFC 4716: RSA only
    private = (tmp_path / "ed").read_bytes()
    truncated = ed25519_file.read_bytes()[:40]
    for material in (b"not a key", b"", ecdsa, ed25519_rfc4716, private, truncated, b"\xff\xfe"):
        got = error_of(ec2.import_key_pair, KeyName="bad", PublicKeyMaterial=material)
        assert {k: got[k] for k in ("Code", "Message")} == BAD_KEY, material
    assert ec2.describe_key_pairs()["KeyPairs"] == []


# describing and deleting


def test_describing_by_name_id_filters_and_tags(ec2: Any) -> None:
    rsa_key = ec2.create_key_pair(KeyName="web-rsa")
    ed_key = ec2.create_key_pair(
        KeyName="web-ed",
        KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "prod"}]}],
    )
    ec2.create_key_pair(KeyName="db", KeyType="ed25519")
    ec2.create_tags(Resources=[rsa_key["KeyPairId"]], Tags=[{"Key": "env", "Value": "dev"}])

    def names(**params: Any) -> list[str]:
        return sorted(p["KeyName"] for p in ec2.describe_key_pairs(**params)["KeyPairs"])

    def filtered(name: str, *values: str) -> list[str]:
        return names(Filters=[{"Name": name, "Values": list(values)}])

    assert names() == ["db", "web-ed", "web-rsa"]
    assert names(KeyNames=["web-ed", "db"]) == ["db", "web-ed"]
    assert names(KeyPairIds=[rsa_key["KeyPairId"]]) == ["web-rsa"]
    assert filtered("key-name", "web-*") == ["web-ed", "web-rsa"]
    assert filtered("key-pair-id", ed_key["KeyPairId"]) == ["web-ed"]
    assert filtered("fingerprint", rsa_key["KeyFingerprint"]) == ["web-rsa"]
    assert filtered("key-type", "ed25519") == ["db", "web-ed"]
    assert filtered("tag:env", "prod") == ["web-ed"]
    assert filtered("tag-key", "env") == ["web-ed", "web-rsa"]
    assert names(KeyNames=["web-rsa"], Filters=[{"Name": "tag:env", "Values": ["prod"]}]) == []
    shown = ec2.describe_key_pairs(KeyNames=["web-rsa"])["KeyPairs"][0]
    assert "PublicKey" not in shown and shown["CreateTime"] is not None
    assert shown["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert code_of(ec2.describe_key_pairs, Filters=[{"Name": "color", "Values": ["x"]}]) == (
        "InvalidParameterValue"
    )


def test_describing_a_key_pair_that_is_not_there(ec2: Any) -> None:
    ec2.create_key_pair(KeyName="here", KeyType="ed25519")
    got = error_of(ec2.describe_key_pairs, KeyNames=["here", "gone"])
    assert (got["Code"], got["Message"]) == (
        "InvalidKeyPair.NotFound",
        "The key pair 'gone' does not exist",
    )
    got = error_of(ec2.describe_key_pairs, KeyPairIds=["key-0123456789abcdef0"])
    assert (got["Code"], got["Message"]) == (
        "InvalidKeyPair.NotFound",
        "The key pair ID 'key-0123456789abcdef0' does not exist",
    )


def test_deleting_by_name_and_by_id_removes_the_key_and_its_tags(ec2: Any) -> None:
    tags = [{"ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "prod"}]}]
    by_name = ec2.create_key_pair(KeyName="one", KeyType="ed25519", TagSpecifications=tags)
    by_id = ec2.create_key_pair(KeyName="two", KeyType="ed25519", TagSpecifications=tags)
    deleted = ec2.delete_key_pair(KeyName="one")
    assert (deleted["Return"], deleted["KeyPairId"]) == (True, by_name["KeyPairId"])
    deleted = ec2.delete_key_pair(KeyPairId=by_id["KeyPairId"])
    assert (deleted["Return"], deleted["KeyPairId"]) == (True, by_id["KeyPairId"])
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert (
        ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["key-pair"]}])["Tags"] == []
    )
    ec2.create_key_pair(KeyName="one", KeyType="ed25519")  # the name is free again


def test_deleting_what_is_not_there(ec2: Any) -> None:
    answer = ec2.delete_key_pair(KeyName="never-was")
    assert answer["Return"] is True and "KeyPairId" not in answer
    got = error_of(ec2.delete_key_pair, KeyPairId="key-0123456789abcdef0")
    assert got["Code"] == "InvalidKeyPair.NotFound"
    assert code_of(ec2.delete_key_pair) == "MissingParameter"


def test_another_account_never_sees_nor_deletes_this_accounts_key_pairs(
    ec2: Any, other: Any
) -> None:
    mine = ec2.create_key_pair(KeyName="mine", KeyType="ed25519")
    assert other.describe_key_pairs()["KeyPairs"] == []
    assert code_of(other.describe_key_pairs, KeyNames=["mine"]) == "InvalidKeyPair.NotFound"
    ids = [mine["KeyPairId"]]
    assert code_of(other.describe_key_pairs, KeyPairIds=ids) == "InvalidKeyPair.NotFound"
    assert "KeyPairId" not in other.delete_key_pair(KeyName="mine")
    assert code_of(other.delete_key_pair, KeyPairId=mine["KeyPairId"]) == "InvalidKeyPair.NotFound"
    assert code_of(other.create_tags, Resources=ids, Tags=[{"Key": "a", "Value": "b"}]) == (
        "InvalidKeyPairId.NotFound"
    )
    assert [p["KeyPairId"] for p in ec2.describe_key_pairs()["KeyPairs"]] == ids
    assert described(ec2, "mine")["Tags"] == []


# what is stored


def catalog_bytes(cloud: Cloud) -> bytes:
    """Every byte of the region's catalog, its write-ahead log included."""
    root = cloud.region(REGION).root
    return b"".join(path.read_bytes() for path in sorted(root.glob("catalog.db*")))


def test_the_private_key_is_never_stored(ec2: Any, cloud: Cloud) -> None:
    pem = ec2.create_key_pair(KeyName="pem")["KeyMaterial"].splitlines()
    ppk = ec2.create_key_pair(KeyName="ppk", KeyType="ed25519", KeyFormat="ppk")["KeyMaterial"]
    ppk_lines = ppk.splitlines()
    private_line = ppk_lines[ppk_lines.index("Private-Lines: 1") + 1]
    stored = catalog_bytes(cloud)
    public_base64 = described(ec2, "pem")["PublicKey"].split()[1]
    assert public_base64.encode() in stored  # what is kept is found where we look
    assert pem[-3].encode() not in stored  # a line of the private exponents
    assert private_line.encode() not in stored


def test_a_launch_finds_its_key_pair_by_name(ec2: Any, cloud: Cloud) -> None:
    created = ec2.create_key_pair(KeyName="launch", KeyType="ed25519")
    with cloud.region(REGION).catalog.connect() as conn:
        assert key_for_launch(conn, ACCOUNT, "launch").key_pair_id == created["KeyPairId"]
        with pytest.raises(ApiError) as caught:
            key_for_launch(conn, OTHER, "launch")
    assert (caught.value.code, caught.value.message) == (
        "InvalidKeyPair.NotFound",
        "The key pair 'launch' does not exist",
    )
