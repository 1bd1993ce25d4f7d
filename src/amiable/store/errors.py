"""The store's errors: one class per thing a user can get wrong or find broken.

Every message is one line that a person can act on.
"""


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class StoreNotFound(StoreError):
    """The path holds no store."""


class SnapshotNotFound(StoreError):
    """No snapshot has that id (or the prefix is ambiguous)."""


class KeyRequired(StoreError):
    """The snapshot is encrypted and no key was given."""


class WrongKey(StoreError):
    """The given key is not the key the snapshot was made with."""


class InvalidKey(StoreError):
    """A key file that does not hold a 256-bit key."""


class DestinationNotEmpty(StoreError):
    """Restore into a non-empty directory without force."""


class CorruptObject(StoreError):
    """Stored data failed its integrity check."""


class UnsafeSnapshot(StoreError):
    """A snapshot entry that would write outside the restore target."""


class SourceError(StoreError):
    """The tree being snapshotted cannot be read."""


class StoreFull(StoreError):
    """The file system holding the store (or a restore target) ran out of space."""
