"""The statuses of a bake's journal (amiable.tools.journal): those the same
command continues, and those that ended the build."""

RESUMABLE = ("running", "interrupted", "distribution-failed")
ENDED = ("published", "failed", "abandoned")
