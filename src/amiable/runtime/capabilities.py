"""The capabilities nothing in a sandbox gets: those that reach the host
itself rather than the sandbox's own namespaces (loading kernel modules, the
clock, raw I/O, audit and MAC policy, BPF, new device nodes, opening files
by handle...), dropped from the capability bounding set of init before it
runs anything of the image, and of every command the host runs inside
(`inside.py`), as systemd-nspawn does. Our own init (PID 1 of an image that
does not boot systemd) also drops them from its own sets: a root process
inside may ptrace it.

CAP_SYS_ADMIN goes too, except where the image boots systemd (which needs
it to mount and to sandbox its services, as under systemd-nspawn without a
user namespace): with it, root inside could mount a /proc of its own and
write the host's kernel settings in /proc/sys. CAP_NET_ADMIN is kept only by
a sandbox with a network namespace of its own (where it configures that
namespace, not the host's).
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
_SYS_ADMIN = ("sys_admin", 21)
_VERSION_3 = 0x20080522  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Sets(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def dropped(own_network: bool, systemd: bool) -> dict[str, int]:
    caps = dict(_HOST_WIDE)
    if not own_network:
        caps[_NET_ADMIN[0]] = _NET_ADMIN[1]
    if not systemd:
        caps[_SYS_ADMIN[0]] = _SYS_ADMIN[1]
    return caps


def drop_bounding_set(own_network: bool, systemd: bool) -> None:
    """Drop them from this process's bounding set (it needs CAP_SETPCAP)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for number in dropped(own_network, systemd).values():
        libc.prctl(_PR_CAPBSET_DROP, number, 0, 0, 0)  # EINVAL: a capability this kernel lacks


def drop_own(own_network: bool, systemd: bool) -> None:
    """Drop them from this process's effective, permitted and inheritable sets."""
    libc = ctypes.CDLL(None, use_errno=True)
    header, sets = _Header(_VERSION_3, 0), (_Sets * 2)()
    if libc.capget(ctypes.byref(header), sets) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    for number in dropped(own_network, systemd).values():
        word, bit = divmod(number, 32)
        for name in ("effective", "permitted", "inheritable"):
            setattr(sets[word], name, getattr(sets[word], name) & ~(1 << bit) & 0xFFFFFFFF)
    if libc.capset(ctypes.byref(header), sets) != 0:
        raise OSError(ctypes.get_errno(), "capset")
