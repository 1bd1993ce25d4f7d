"""The runtime's errors: what the host cannot do, and what went wrong in a sandbox."""


class RuntimeUnavailable(Exception):
    """This host cannot run sandboxes (not root, no overlayfs, no unshare)."""


class SandboxError(Exception):
    """A sandbox failed to start or to run a command."""
