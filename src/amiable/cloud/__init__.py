"""The semantics of the cloud: one module per resource family (images,
snapshots, volumes, instances, tags, permissions, recycle bin, commands).
Pure Python calls in, plain dicts out (shaped like botocore's output shapes);
knows nothing of HTTP or XML."""
