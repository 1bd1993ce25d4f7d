"""amiable: the Amazon Machine Image model, real, on one Linux host.

Layers (imports point down only): cli -> tools -> server -> protocol -> cloud
-> catalog / store / runtime. See docs/ and ../shared/DESIGN.md.
"""

__version__ = "0.1.0"

__all__ = ["Session", "__version__"]


def __getattr__(name: str) -> object:
    # Imported on first use: `ami store` commands should not pay for boto3.
    if name == "Session":
        from .session import Session

        return Session
    raise AttributeError(name)
