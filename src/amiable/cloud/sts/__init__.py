"""Security Token Service: who the caller is."""
