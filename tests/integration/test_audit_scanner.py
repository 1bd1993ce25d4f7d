"""The content scanner's script run on this host against planted trees,
under busybox sh with only busybox's applets on PATH (and under the host's
sh and tools, as an image with dpkg's usual dash, GNU find and grep and mawk
would run it), and its output parsed back."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from amiable.tools.audit.scanner import (
    SCAN,
    Exposure,
    ScanError,
    parse,
    unexpected_setuid,
)
from amiable.tools.audit.vulnerabilities import Distribution, Package
from amiable.tools.sbom import components

ACCESS_KEY_ID = "AKIA2E0A8F3B244C9986"
SECRET_ACCESS_KEY = "vH8wq0Yl7FZt3kRm+Pq2XcN5bJ/dA9sLe6TgUoWi"
SESSION_KEY_ID = "ASIA5T7QXJ2LM4N6P8RW"
SESSION_SECRET = "Kq3Zr8Xv/N2mB5wT9cY7hL4pD6fJ1gS0aEuRoQiz"
CONFIG_KEY_ID = "AKIAJ3K5L7M9N1P3Q5R7"
CONFIG_SECRET = "p0o9i8u7y6t5r4e3w2q1A1S2D3F4G5H6J7K8L9Z0"
LONELY_KEY_ID = "AKIAQ7R2S9T4U6V8W0XY"
Scanner = Callable[[Path], str]

DPKG_STATUS = """\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.9-1

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc (2.36-9+deb12u3)
Version: 2.36-9+deb12u3

Package: old-removed
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

"""


@pytest.fixture(scope="module")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of symbolic links to busybox, one per applet: a PATH of busybox tools only."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("needs busybox (apt-get install busybox-static)")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    directory = tmp_path_factory.mktemp("busybox-bin")
    for applet in applets.stdout.split():
        (directory / applet).symlink_to(busybox)
    return directory


@pytest.fixture(params=["busybox", "host"])
def scan(request: pytest.FixtureRequest, busybox_bin: Path, tmp_path: Path) -> Scanner:
    """Runs SCAN on a root and returns what it wrote."""

    def run(root: Path) -> str:
        output = tmp_path / "scan.out"
        if request.param == "busybox":
            command, path = [str(busybox_bin / "sh")], str(busybox_bin)
        else:
            command, path = ["/bin/sh"], "/usr/bin:/bin"
        subprocess.run(
            [*command, "-c", SCAN, "sh", str(output), str(root)],
            env={"PATH": path},
            check=True,
            timeout=120,
        )
        return output.read_text()

    return run


def write(path: Path, text: str | bytes, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, layout: str) -> bytes:
    formats = {
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
        "pkcs8": serialization.PrivateFormat.PKCS8,
    }
    return key.private_bytes(
        serialization.Encoding.PEM, formats[layout], serialization.NoEncryption()
    )


def openssh() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


def image_tree(root: Path) -> Path:
    """What any image has: os-release (as Debian ships it, through a
    symbolic link), an empty machine-id, a sticky /tmp, a dpkg database."""
    write(
        root / "usr/lib/os-release",
        'PRETTY_NAME="Debian GNU/Linux 12"\nID=debian\nVERSION_ID="12"\n',
    )
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    write(root / "etc/machine-id", "")
    write(
        root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n"
    )
    write(root / "usr/bin/ls", b"\x7fELF", 0o755)
    write(root / "var/lib/dpkg/status", DPKG_STATUS)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    (root / "var/tmp").mkdir(parents=True)
    (root / "var/tmp").chmod(0o1777)
    (root / "root").mkdir()
    return root


def plant(root: Path, outside: Path) -> tuple[set[tuple[str, str, str]], list[str]]:
    """Secrets and mistakes planted under `root`: the exposures the scan
    must report, and the secret strings it must never print."""
    rsa_key = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048), "traditional")
    pkcs8_key = pem(ec.generate_private_key(ec.SECP256R1()), "pkcs8")
    user_key, host_key, outside_key = openssh(), openssh(), openssh()
    write(root / "root/.ssh/id_rsa", rsa_key, 0o600)
    write(root / "home/ann/.ssh/id_ed25519", user_key, 0o600)
    write(root / "opt/app/tls/server.key", b"bundle\n" + pkcs8_key + rsa_key)
    write(root / "etc/ssh/ssh_host_ed25519_key", host_key, 0o600)
    write(
        root / "root/.aws/credentials",
        f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n",
    )
    write(
        root / "opt/app/.env",
        f"AWS_ACCESS_KEY_ID={SESSION_KEY_ID}\nREGION=eu-west-1\nAWS_KEY={SESSION_SECRET}\n",
    )
    write(
        root / "opt/app/config.yml",
        f"storage:\n  aws_access_key_id: {CONFIG_KEY_ID}\n"
        f"  aws_secret_access_key: {CONFIG_SECRET}\n",
    )
    write(root / "opt/app/notes.txt", f"rotated {LONELY_KEY_ID} last week\n")  # no secret near
    write(
        root / "usr/share/doc/aws/example.txt",  # AWS's own documentation example
        "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    write(root / "root/.bash_history", "aws s3 ls\n")
    write(root / "home/ann/.python_history", "import os\n")
    write(root / "home/ann/.ash_history", "")
    write(root / "home/ann/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 ann@laptop\n")
    write(root / "root/.ssh/authorized_keys", "")
    write(root / "etc/machine-id", "4c4c4544004d3510804cb7c04f4b3332\n")
    write(root / "var/lib/dbus/machine-id", "uninitialized\n")  # systemd's first-boot marker
    write(root / "opt/app/shared.conf", "x\n", 0o666)
    (root / "opt/app/drop").mkdir()
    (root / "opt/app/drop").chmod(0o777)
    (root / "srv/upload").mkdir(parents=True)
    (root / "srv/upload").chmod(0o1777)  # sticky: as /tmp
    write(root / "tmp/scratch", "x\n", 0o666)
    write(root / "usr/bin/passwd", b"\x7fELF", 0o4755)
    write(root / "usr/bin/chage", b"\x7fELF", 0o2755)
    write(root / "opt/app/helper", b"\x7fELF", 0o4755)
    write(root / "proc/1/environ", rsa_key)  # not searched
    write(root / "run/secrets/key", rsa_key)  # not searched
    write(root / "var/backups/huge.img", rsa_key + b"\0" * (10 * 1024 * 1024))  # over 10 MiB
    # What is outside the root is never read, through links or otherwise.
    write(outside / "key", outside_key)
    write(outside / ".ssh/authorized_keys", "ssh-ed25519 AAAA outsider\n")
    (root / "opt/elsewhere").symlink_to(outside)
    (root / "root/.ssh/stolen_key").symlink_to(outside / "key")
    (root / "home/ann/.ssh/authorized_keys2").symlink_to(outside / ".ssh/authorized_keys")
    expected = {
        ("private-key", "/root/.ssh/id_rsa", "RSA"),
        ("private-key", "/home/ann/.ssh/id_ed25519", "OPENSSH"),
        ("private-key", "/opt/app/tls/server.key", "PKCS8,RSA"),
        ("ssh-host-keys", "/etc/ssh/ssh_host_ed25519_key", ""),
        ("aws-credentials", "/root/.aws/credentials", "AKIA************9986"),
        ("aws-credentials", "/opt/app/.env", "ASIA************P8RW"),
        ("aws-credentials", "/opt/app/config.yml", "AKIA************Q5R7"),
        ("shell-history", "/root/.bash_history", ""),
        ("shell-history", "/home/ann/.python_history", ""),
        ("authorized-keys", "/home/ann/.ssh/authorized_keys", ""),
        ("machine-id", "/etc/machine-id", ""),
        ("world-writable", "/opt/app/shared.conf", "666"),
        ("world-writable", "/opt/app/drop", "777"),
        ("setuid", "/usr/bin/passwd", "4755"),
        ("setuid", "/usr/bin/chage", "2755"),
        ("setuid", "/opt/app/helper", "4755"),
    }
    key_bodies = [key.decode().splitlines()[1] for key in (rsa_key, pkcs8_key, user_key, host_key)]
    secrets = [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_KEY_ID, SESSION_SECRET, CONFIG_KEY_ID]
    secrets += [CONFIG_SECRET, LONELY_KEY_ID, *key_bodies]
    return expected, secrets


def reported(exposures: tuple[Exposure, ...]) -> set[tuple[str, str, str]]:
    return {(e.rule, e.path, e.detail) for e in exposures}


def test_every_planted_secret_is_found_by_its_path(scan: Scanner, tmp_path: Path) -> None:
    root, outside = image_tree(tmp_path / "image"), tmp_path / "outside"
    expected, secrets = plant(root, outside)
    output = scan(root)
    result = parse(output)
    assert reported(result.exposures) == expected
    for secret in secrets:
        assert secret not in output
    for exposure in result.exposures:
        assert not exposure.path.startswith(str(tmp_path))
        assert exposure.modified > 0
    assert str(tmp_path) not in output


def test_a_clean_image_has_no_findings(scan: Scanner, tmp_path: Path) -> None:
    result = parse(scan(image_tree(tmp_path / "image")))
    assert result.exposures == ()
    assert result.distribution == Distribution("debian", "12")


def test_the_inventory_and_its_sources(scan: Scanner, tmp_path: Path) -> None:
    result = parse(scan(image_tree(tmp_path / "image")))
    assert result.packages == (
        Package("deb", "libc6", "2.36-9+deb12u3", "amd64", "glibc", "2.36-9+deb12u3"),
        Package("deb", "libssl3", "3.0.9-1", "amd64", "openssl", "3.0.9-1"),
    )
    assert {c["name"] for c in components(result.listing)} == {"libc6", "libssl3"}


def test_an_alpine_inventory(scan: Scanner, tmp_path: Path) -> None:
    root = tmp_path / "image"
    write(root / "etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')
    write(
        root / "lib/apk/db/installed",
        "C:Q1abc=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\n"
        "C:Q1def=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n",
    )
    result = parse(scan(root))
    assert result.distribution == Distribution("alpine", "3.19.1")
    assert result.packages == (
        Package("apk", "libcrypto3", "3.1.4-r5", "x86_64", "openssl", "3.1.4-r5"),
        Package("apk", "musl", "1.2.4_git20230717-r4", "x86_64", "musl", "1.2.4_git20230717-r4"),
    )


def test_an_unfinished_scan_is_an_error() -> None:
    with pytest.raises(ScanError, match="did not finish"):
        parse("os\tdebian\t12\nfinding\tsetuid\t4755\t1\t/usr/bin/su\n")
    with pytest.raises(ScanError):
        parse("")


def test_parse_keeps_tabs_in_paths_and_sorts() -> None:
    result = parse(
        "os\tdebian\t12\nbooted\t1700000000\n"
        "finding\tshell-history\t\t1700000100\t/root/.bash_history\n"
        "finding\tworld-writable\t666\t1700000200\t/opt/odd\tname\n"
        "finding\tno-such-rule\t\t1\t/x\n"
        "end\n"
    )
    assert result.booted == 1700000000
    assert result.exposures == (
        Exposure("world-writable", "/opt/odd\tname", "666", 1700000200),
        Exposure("shell-history", "/root/.bash_history", "", 1700000100),
    )


def test_unexpected_setuid_files() -> None:
    exposures = [
        Exposure("setuid", "/usr/bin/passwd", "4755", 1),
        Exposure("setuid", "/usr/lib/x86_64-linux-gnu/utempter/utempter", "2755", 1),
        Exposure("setuid", "/opt/app/helper", "4755", 1),
        Exposure("world-writable", "/opt/app/shared.conf", "666", 1),
    ]
    assert unexpected_setuid(exposures) == [exposures[2]]
    assert unexpected_setuid(exposures, allowed=["/opt/app/*"]) == exposures[:2]
