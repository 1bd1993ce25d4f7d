"""The built-in clean-up before imaging (each item switchable in the
recipe): nothing that belongs to the build instance may stay in the image."""

from .recipe import PrepareItems

ITEMS = {
    "temp_files": "rm -rf /tmp/* /tmp/.[!.]* /var/tmp/* /var/tmp/.[!.]* 2>/dev/null || true",
    "logs": "[ -d /var/log ] && find /var/log -type f -exec sh -c ': > \"$1\"' _ {} \\; || true",
    "shell_history": "rm -f /root/.*_history /home/*/.*_history 2>/dev/null || true",
    "machine_id": "[ -f /etc/machine-id ] && : > /etc/machine-id || true",
    "ssh_host_keys": "rm -f /etc/ssh/ssh_host_*",
    "authorized_keys": "rm -f /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys",
    "cloud_init": "rm -rf /var/lib/cloud/instances /var/lib/cloud/instance /var/lib/cloud/data "
    "/var/lib/cloud/sem /var/log/cloud-init*.log",
    "package_caches": "rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/* "
    "/var/cache/apk/* /var/cache/dnf/* /var/cache/yum/* 2>/dev/null || true",
}


def script(items: PrepareItems) -> str:
    """One shell script: the chosen items, then the recipe's commands."""
    chosen = [command for name, command in ITEMS.items() if getattr(items, name)]
    return "\n".join(["set -e", *chosen, *items.commands, "sync"])
