"""The capabilities nothing in a sandbox gets: those that reach the host
itself rather than the sandbox's own namespaces (loading kernel modules, the
clock, raw I/O, audit and MAC policy, BPF, new device nodes, opening files
by handle...), dropped from
the capability bounding set of init before it runs anything of the image, and
of every command the host runs inside (`setpriv`), as systemd-nspawn does.

CAP_NET_ADMIN is kept only by a sandbox with a network namespace of its own
(where it configures that namespace, not the host's).
"""

import ctypes

_PR_CAPBSET_DROP = 24
_HOST_WIDE = {
    "dac_read_search": 2,  # open_by_handle_at: any file of a host file system it holds open
    "sys_module": 16,
    "sys_rawio": 17,
    "sys_pacct": 20,
    "sys_time": 25,
    "mknod": 27,
    "audit_control": 30,
    "mac_override": 32,
    "mac_admin": 33,
    "syslog": 34,
    "wake_alarm": 35,
    "block_suspend": 36,
    "audit_read": 37,
    "perfmon": 38,
    "bpf": 39,
    "checkpoint_restore": 40,
}
_NET_ADMIN = ("net_admin", 12)


def dropped(own_network: bool) -> dict[str, int]:
    caps = dict(_HOST_WIDE)
    if not own_network:
        caps[_NET_ADMIN[0]] = _NET_ADMIN[1]
    return caps


def drop_bounding_set(own_network: bool) -> None:
    """Drop them from this process's bounding set (it needs CAP_SETPCAP)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for number in dropped(own_network).values():
        libc.prctl(_PR_CAPBSET_DROP, number, 0, 0, 0)  # EINVAL: a capability this kernel lacks


def setpriv_prefix(own_network: bool) -> list[str]:
    """A command prefix that runs what follows without them."""
    return ["setpriv", "--bounding-set=" + ",".join(f"-{n}" for n in dropped(own_network))]
