"""A minimal Key Management Service: keys, aliases, policies, and the host master key
that seals them."""
