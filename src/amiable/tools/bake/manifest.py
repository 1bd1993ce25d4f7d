"""What a bake leaves beside the recipe for CI: the manifest
(`<name>.manifest.json`: build id, status, images per region, snapshots,
sharing, parameter, tests, cache, time), the SBOM (`<name>.sbom.json`,
CycloneDX) and the lock file (`<name>.lock.json`: the resolved inputs —
base image, the recipe's hash, the copied files' hashes). Each is written
whole (temp file and rename)."""

import json
import os
from pathlib import Path
from typing import Any

from amiable.tools.journal import Journal

from .recipe import Loaded, Recipe


def write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)


def write_json(path: Path, value: Any) -> None:
    write_atomically(path, json.dumps(value, indent=2, sort_keys=True).encode() + b"\n")


def beside(loaded: Loaded, suffix: str) -> Path:
    return loaded.folder / f"{loaded.written.name}.{suffix}"


def manifest(journal: Journal, recipe: Recipe, status: str, seconds: float) -> dict[str, Any]:
    data = journal.data
    stages = data.get("stages", {})
    published = stages.get("publish", {}).get("images", {})
    spread = recipe.distribute
    tests = [
        *stages.get("test", {}).get("tests", data.get("tests", [])),
        *stages.get("verify", {}).get("tests", []),
    ]
    return {
        "build_id": journal.build_id,
        "name": recipe.name,
        "version": recipe.version,
        "status": status,
        "image_name": recipe.image.name,
        "base_image": data.get("resolved", {}).get("base", {}).get("image_id"),
        "images": published,
        "snapshots": data.get("snapshots", {}),
        "shared_with": {
            "accounts": spread.accounts if spread else [],
            "organizations": spread.organizations if spread else [],
            "organizational_units": spread.organizational_units if spread else [],
            "public": bool(spread and spread.public),
        },
        "parameter": spread.parameter if spread else None,
        "launch_templates": spread.launch_templates if spread else [],
        "tests": [
            {k: t[k] for k in ("name", "region", "passed", "seconds", "cached") if k in t}
            for t in tests
        ],
        "cache": data.get("cache", {"hits": 0, "misses": 0}),
        "sbom": data.get("sbom"),
        "inputs": data.get("inputs"),
        "seconds": round(seconds, 3),
        **({"error": data["error"]} if status != "published" and data.get("error") else {}),
    }


def lock(loaded: Loaded, resolved: dict[str, Any], files: dict[str, str], recipe_hash: str) -> Any:
    return {
        "name": loaded.written.name,
        "recipe_sha256": recipe_hash,
        "vars": loaded.variables,
        "base": resolved["base"],
        "files": files,
    }


def read_lock(path: Path) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads(path.read_text())
        return found
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a lock file ({exc})") from exc
