"""The semantics of the cloud, grouped as EC2 users know it: `images/`, `ebs/`,
`imports/`, `instances/`, `network/`, `kms/`, `ssm/`, `rbin/`, `sts/`,
`autoscaling/`, with the shared machinery (action registry, errors, filters, listing, ids,
clock, workers, tags, the data home) in `core/`. Pure Python calls in, plain
dicts out (shaped like botocore's output shapes); knows nothing of HTTP or
XML."""
