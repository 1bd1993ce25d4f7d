"""Elastic Block Store: snapshots, volumes, attaching volumes, snapshot permissions,
snapshot locks and EBS encryption."""
