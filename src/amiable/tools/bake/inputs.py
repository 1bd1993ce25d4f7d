"""What a build is made from, as digests: the recipe's text and variables,
every file a step copies or runs, and the base image. The fingerprint
decides whether an interrupted build may be continued; the inputs digest
(fingerprint and base image) whether `--if-changed` has anything to do;
the step keys name the cache's images; the content key says what a
candidate holds, and the tests key what it was tested with."""

import hashlib
import json
from pathlib import Path
from typing import Any

from . import prepare
from .recipe import Loaded, Recipe, Step


def file_digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's names, modes and contents."""
    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            relative = child.relative_to(path).as_posix()
            mode = child.lstat().st_mode
            digest.update(f"{relative}\0{mode:o}\0".encode())
            if child.is_symlink():
                digest.update(str(child.readlink()).encode())
            elif child.is_file():
                digest.update(hashlib.sha256(child.read_bytes()).digest())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def source_of(loaded: Loaded, step: Step) -> Path | None:
    """The local file a step sends (copy's src, a script), if any."""
    if step.copy_files is not None:
        return loaded.folder / step.copy_files.src
    if step.script is not None:
        return loaded.folder / step.script
    return None


def files(loaded: Loaded, recipe: Recipe) -> dict[str, str]:
    """Relative path -> digest of every file the steps send."""
    found: dict[str, str] = {}
    for step in recipe.build.steps:
        source = source_of(loaded, step)
        if source is not None:
            found[str(source.relative_to(loaded.folder))] = file_digest(source)
    return found


def text_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(loaded: Loaded, recipe: Recipe) -> str:
    return _digest(
        {
            "recipe": text_digest(loaded.path),
            "vars": loaded.variables,
            "files": files(loaded, recipe),
        }
    )


def inputs_digest(fingerprint_: str, base_image: str) -> str:
    return _digest({"fingerprint": fingerprint_, "base": base_image})[:32]


def step_keys(loaded: Loaded, recipe: Recipe, base_image: str) -> list[str]:
    """One key per step: the base image, and every step up to it as rendered
    (with the digest of what it sends)."""
    keys, chain = [], base_image
    for step in recipe.build.steps:
        source = source_of(loaded, step)
        sent = file_digest(source) if source is not None else ""
        chain = _digest({"before": chain, "step": step.model_dump(mode="json"), "sent": sent})
        keys.append(chain)
    return keys


def content_key(loaded: Loaded, recipe: Recipe, base_image: str, build_region: str) -> str:
    """What the candidate holds: the last step's key, the clean-up and the
    encryption. Two candidates with one content key are the same image."""
    keys = step_keys(loaded, recipe, base_image)
    items = recipe.prepare_items()
    return _digest(
        {
            "steps": keys[-1] if keys else base_image,
            "prepare": prepare.script(items) if items else None,
            "encrypted": recipe.image.encrypted,
            "key": recipe.image.kms_key_in(build_region),
        }
    )


def tests_key(loaded: Loaded, recipe: Recipe, region: str) -> str:
    """The tests, the audit (its rules file's text, its database's last
    change), and how the image is encrypted in `region`: a result for one
    content key and this key holds for every image of that content."""
    return _digest(
        {
            "tests": [check.model_dump(mode="json") for check in recipe.tests],
            "audit": _audit_inputs(loaded, recipe),
            "encrypted": recipe.image.encrypted,
            "key": recipe.image.kms_key_in(region),
        }
    )[:32]


def _audit_inputs(loaded: Loaded, recipe: Recipe) -> dict[str, Any] | None:
    if recipe.audit is None:
        return None
    rules = recipe.audit.rules_path(loaded.folder)
    database = recipe.audit.database_path(loaded.folder)
    return {
        "spec": recipe.audit.model_dump(mode="json"),
        "rules": _digest(rules.read_text()) if rules and rules.is_file() else None,
        "database": database.stat().st_mtime_ns if database and database.exists() else None,
    }


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
