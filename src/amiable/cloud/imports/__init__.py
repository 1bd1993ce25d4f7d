"""VM Import/Export: ImportSnapshot and ImportImage tasks, from directories and tar
archives."""
