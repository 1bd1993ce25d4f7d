"""mount(2), umount2(2), pivot_root(2), open_tree(2) and move_mount(2)
through libc (Python has no binding), and overlay options."""

import ctypes
import os

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
# the same numbers on x86_64 and arm64 (the unified table, from 424 on), but pivot_root's
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_OPEN_TREE, _MOVE_MOUNT = 428, 429
_OPEN_TREE_CLONE = 1
_MOVE_MOUNT_F_EMPTY_PATH = 4
_AT_FDCWD = -100


def _checked(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    result = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    _checked(result, f"mount {target}")


def unmount(target: str) -> None:
    """Detach a mount (lazily: it goes once nothing uses it)."""
    _checked(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def pivot_root(new_root: str) -> None:
    """Make `new_root` (a mount point) this mount namespace's root and take the
    old root out of it whole (runc's way: pivot onto itself, then detach the
    old root stacked over the new one): no path of the host is left in it."""
    os.chdir(new_root)
    _checked(_libc.syscall(_PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    unmount(".")
    os.chdir("/")


def detached_copy(path: str) -> int:
    """A copy of the mount at `path` that is mounted nowhere (open_tree with
    OPEN_TREE_CLONE): its fd, for `move_mount` into another namespace."""
    flags = _OPEN_TREE_CLONE | os.O_CLOEXEC
    return _checked(_libc.syscall(_OPEN_TREE, _AT_FDCWD, path.encode(), flags), f"open_tree {path}")


def move_mount(mount_fd: int, target: str) -> None:
    """Put a detached mount at `target` (resolved in this process's root)."""
    moved = _libc.syscall(
        _MOVE_MOUNT, mount_fd, b"", _AT_FDCWD, target.encode(), _MOVE_MOUNT_F_EMPTY_PATH
    )
    _checked(moved, f"move_mount {target}")


def overlay_options(
    lowers: list[str],
    upper: str | None = None,
    work: str | None = None,
    privileged: bool = True,
) -> str:
    """Options of an overlay: writable with `upper` and `work`, read-only without.

    Copy-up stays plain (no metacopy, no redirects): the upper directory then
    holds whole files, whiteouts and opaque directories, which
    Store.snapshot_changes reads. Only a privileged mount may say
    `redirect_dir=off`; in a user namespace the module's default must already
    be off (`redirect_dir_default_off`)."""
    options = f"lowerdir={':'.join(lowers)}"
    if upper is not None and work is not None:
        options += f",upperdir={upper},workdir={work},metacopy=off"
        if privileged:
            options += ",redirect_dir=off"
    return options


def redirect_dir_default_off() -> bool:
    try:
        with open("/sys/module/overlay/parameters/redirect_dir") as parameter:
            value = parameter.read().strip()
    except OSError:
        return False
    return value in ("N", "off")
