"""The way in: request authentication (SigV4), routing to protocols and
handlers, and the ASGI app behind `ami serve`."""
