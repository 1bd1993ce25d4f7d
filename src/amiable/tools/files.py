"""Files the tools write whole or not at all (temp file, fsync, rename): a
bake's manifest, lock file and SBOM beside the recipe, the record of
`ami audit` in the state directory. A reader sees the old file or the new
one, never half of one."""

import json
import os
from pathlib import Path
from typing import Any


def write_atomically(path: Path, data: bytes) -> None:
    """`path` holds `data` whole, or is as it was (the temp file removed)."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with open(temp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_atomically(path, json.dumps(value, indent=2, sort_keys=True).encode() + b"\n")
