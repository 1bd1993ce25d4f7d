"""EC2 Auto Scaling, the reads: amiable has no Auto Scaling groups."""
