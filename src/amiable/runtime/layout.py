"""What a sandbox is called and keeps on the host: the files of its directory
that its starter, its monitor and its init share, the name of its host
interface and network namespace (and cgroups), and the kinds of network it
can have. Small on purpose: the monitor imports it before it starts the
sandbox, so a boot never waits for more."""

import hashlib
from pathlib import Path

STATE_FILE = "init.json"  # init's announcement of a boot
MONITOR_FILE = "monitor.json"  # the monitor's host PID and identity
STOP_REQUEST = "stop-requested"  # the host asked this stop
SHUTDOWN_FILE = "shutdown"  # "poweroff" | "halt" | "reboot": it shut itself down
CONSOLE_VARIABLE = "AMIABLE_CONSOLE"  # the terminal the monitor reads, for /dev/console

HOST_NETWORK = "host"  # the host's own (a rootless sandbox's only choice)
NO_NETWORK = "none"  # a network namespace with nothing in it
OWN_NETWORK = "own"  # its own link (`network.Link`)


def interface_name(directory: Path) -> str:
    """The host interface (and network namespace) of the sandbox in `directory`:
    unique per directory, within Linux's 15 characters."""
    return "am" + hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]


def namespace_path(directory: Path) -> str:
    return f"/run/netns/{interface_name(directory)}"
