"""Errors of the catalog, importable without loading SQLAlchemy."""


class CatalogError(Exception):
    """A catalog this release cannot use."""
