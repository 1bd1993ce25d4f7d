"""Instances: launching, states, their sandboxes (hosting), attributes, launch
templates, and images and snapshots made from them."""
