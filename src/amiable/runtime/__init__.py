"""Instance sandboxes on Linux: a read-only cache of each image's files, an
overlayfs root per instance, namespaces and a small init. Knows nothing of EC2
(`cloud/instances/instances.py` composes it with the catalog)."""
