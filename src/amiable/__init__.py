"""amiable: the Amazon Machine Image model, real, on one Linux host.

Layers (imports point down only): cli -> tools -> server -> protocol -> cloud
-> catalog / store / runtime. See docs/ and ../shared/DESIGN.md.
"""

__version__ = "0.1.0"
