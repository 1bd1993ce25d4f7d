"""Resource ids as EC2 writes them: a prefix, a dash, 17 lowercase hex digits."""

import re
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def well_formed(prefix: str, value: str) -> bool:
    return re.fullmatch(rf"{re.escape(prefix)}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})", value) is not None
