"""The shared machinery of every service: the action registry, errors, filters, listing
and pages, ids, the clock, background workers, client tokens, tags, regions, who may
see what (permissions), account settings, and the data home."""
