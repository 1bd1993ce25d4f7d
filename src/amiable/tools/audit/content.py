"""The built-in content rules: what only the image's files tell. Declared
here (id, severity, texts) so that rules files and reports know them; a
content audit (`--content`, `auditing.content_checks`) runs them."""

from pydantic import Field

from .rules import ContentRule, RuleSettings
from .scanner import DEFAULT_SETUID_ALLOWED


class PrivateKey(ContentRule):
    id = "private-key"
    severity = "critical"
    title = "Image holds a private key"
    rationale = "Every instance and every copy of the image carries the key to whoever reads it."
    remediation = "Remove the key from the image and fetch it at boot from a secret store."


class AwsCredentials(ContentRule):
    id = "aws-credentials"
    severity = "critical"
    title = "Image holds AWS credentials"
    rationale = (
        "Access keys left in the image (~/.aws/credentials, environment files) "
        "act for their owner from anywhere the image goes."
    )
    remediation = "Remove them, rotate the keys, and give instances an instance profile instead."


class SshHostKeys(ContentRule):
    id = "ssh-host-keys"
    severity = "high"
    title = "Image ships SSH host keys"
    rationale = (
        "Every instance of the image shares the same host keys, so one instance "
        "can impersonate all the others."
    )
    remediation = "Delete /etc/ssh/ssh_host_* before creating the image; they are made at boot."


class AuthorizedKeys(ContentRule):
    id = "authorized-keys"
    severity = "high"
    title = "Image has authorized SSH keys"
    rationale = (
        "Keys in authorized_keys let their holders into every instance of the image, "
        "whatever key pair the instance is launched with."
    )
    remediation = (
        "Remove ~/.ssh/authorized_keys from the image; cloud-init installs the key pair's."
    )


class ShellHistory(ContentRule):
    id = "shell-history"
    severity = "medium"
    title = "Image keeps shell history"
    rationale = "Build commands often carry passwords, tokens and internal host names."
    remediation = "Remove ~/.bash_history and the like before creating the image."


class MachineId(ContentRule):
    id = "machine-id"
    severity = "low"
    title = "Image has a machine id"
    rationale = (
        "Instances that share /etc/machine-id share DHCP identities and journal "
        "names, and look like one machine to whatever tracks them."
    )
    remediation = "Empty /etc/machine-id before creating the image; it is made at first boot."


class WorldWritable(ContentRule):
    id = "world-writable"
    severity = "medium"
    title = "Image has world-writable files"
    rationale = "Any local user can change a world-writable file, and what runs or reads it."
    remediation = "Remove the write bit for others (chmod o-w) outside sticky temp directories."


class SetuidSettings(RuleSettings):
    allowed: list[str] = Field(default_factory=lambda: list(DEFAULT_SETUID_ALLOWED))


class Setuid(ContentRule):
    id = "setuid"
    severity = "medium"
    title = "Image has unexpected setuid or setgid files"
    rationale = "A setuid or setgid program is a way to root for any flaw it has."
    remediation = "Remove the bit (chmod u-s,g-s) from programs that do not need it."
    Settings = SetuidSettings
    settings: SetuidSettings


class VulnerablePackage(ContentRule):
    id = "vulnerable-package"
    severity = "high"
    title = "Image has packages with known vulnerabilities"
    rationale = "Installed package versions listed in a vulnerability database are exploitable."
    remediation = "Update the packages (or the base image) and rebuild the image."


CONTENT_RULES: tuple[type[ContentRule], ...] = (
    PrivateKey,
    AwsCredentials,
    SshHostKeys,
    AuthorizedKeys,
    ShellHistory,
    MachineId,
    WorldWritable,
    Setuid,
    VulnerablePackage,
)
