"""What a bake leaves beside the recipe for CI: the manifest
(`<name>.manifest.json`: build id, status, images per region, snapshots,
sharing, parameter, tests, cache, time), the SBOM (`<name>.sbom.json`,
CycloneDX) and the lock file (`<name>.lock.json`: the resolved inputs —
base image, the recipe's hash, the copied files' hashes). Each is written
whole (tools/files.py)."""

import json
from pathlib import Path
from typing import Any

from amiable.tools.journal import Journal

from .recipe import Loaded, Recipe


def beside(loaded: Loaded, suffix: str) -> Path:
    return loaded.folder / f"{loaded.written.name}.{suffix}"


def published_of(data: dict[str, Any]) -> dict[str, str]:
    """The images a build's journal says it published, by region."""
    images: dict[str, str] = data.get("stages", {}).get("publish", {}).get("images", {})
    return images


def tests_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The test results a build's journal holds: the gate's (passed, or the
    failing run's), then the copies' verification."""
    stages = data.get("stages", {})
    return [
        *stages.get("test", {}).get("tests", data.get("tests", [])),
        *stages.get("verify", {}).get("tests", []),
    ]


def manifest(journal: Journal, recipe: Recipe, status: str, seconds: float) -> dict[str, Any]:
    data = journal.data
    published = published_of(data)
    spread = recipe.distribute
    tests = tests_of(data)
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
