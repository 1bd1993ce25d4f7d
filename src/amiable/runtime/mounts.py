"""mount(2) and umount2(2) through libc (Python has no binding), and overlay options."""

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


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    result = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def unmount(target: str) -> None:
    """Detach a mount (lazily: it goes once nothing uses it)."""
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"umount {target}: {os.strerror(errno)}")


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
