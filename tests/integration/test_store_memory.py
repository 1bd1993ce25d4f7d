"""Memory stays bounded: a 5 GB sparse file and a 300 MB file go through in small pieces."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers import MiB, allocated, ami_cmd, file_digest, sparse_files_equal

GiB = 1024 * MiB
RSS_LIMIT = 300 * MiB
SPARSE_SIZE = 5 * GiB
SPARSE_DATA = [  # (offset, length): ~6 MB of real data, unaligned, spread over 5 GB
    (0, 1 * MiB),
    (GiB + 12_345, 2 * MiB),
    (int(2.5 * GiB), 1 * MiB + 7),
    (4 * GiB - 3, 1 * MiB),
    (SPARSE_SIZE - MiB, MiB),
]
BIG_SIZE = 300 * MiB


def _compressible_chunk(n: int) -> bytes:
    """Random bytes over a 16-letter alphabet: unique, but zstd halves them."""
    table = bytes.maketrans(bytes(range(256)), b"abcdefghijklmnop" * 16)
    return os.urandom(n).translate(table)


def make_sources(root: Path) -> None:
    root.mkdir()
    with open(root / "sparse.img", "wb") as f:
        f.truncate(SPARSE_SIZE)
        for offset, length in SPARSE_DATA:
            f.seek(offset)
            f.write(os.urandom(length))
    with open(root / "big.bin", "wb") as f:
        for _ in range(BIG_SIZE // (4 * MiB)):
            f.write(_compressible_chunk(4 * MiB))


# A child's max RSS starts from its parent's high-water mark (Linux keeps it
# across fork and exec), and a pytest worker is large: a small launcher
# process runs the command and reports the RSS of that grandchild alone.
LAUNCHER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(done.returncode)
"""


def run_measured(*args: str | Path) -> tuple[int, int, str, str]:
    """Run `ami store ARGS`; return (exit status, max RSS in bytes, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "maxrss"
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), *ami_cmd(*args)],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, int(report.read_text()) * 1024, done.stdout, done.stderr


def test_snapshot_and_restore_of_huge_files_stay_under_300_mb(tmp_path: Path) -> None:
    src, store, dest = tmp_path / "src", tmp_path / "store", tmp_path / "dest"
    make_sources(src)
    code, _rss, _out, err = run_measured("init", "--store", store)
    assert code == 0, err

    code, rss, out, err = run_measured("snapshot", "--store", store, src)
    assert code == 0, err
    assert rss < RSS_LIMIT, f"snapshot used {rss / MiB:.0f} MiB"
    snap = out.strip()

    code, rss, _out, err = run_measured("restore", "--store", store, snap, dest)
    assert code == 0, err
    assert rss < RSS_LIMIT, f"restore used {rss / MiB:.0f} MiB"

    restored_sparse = dest / "sparse.img"
    assert restored_sparse.stat().st_size == SPARSE_SIZE
    real = sum(length for _, length in SPARSE_DATA)
    assert allocated(restored_sparse) <= real + 8 * MiB, (
        f"restored sparse file allocates {allocated(restored_sparse) / MiB:.0f} MiB"
    )
    assert sparse_files_equal(src / "sparse.img", restored_sparse)
    assert (dest / "big.bin").stat().st_size == BIG_SIZE
    assert file_digest(dest / "big.bin") == file_digest(src / "big.bin")
