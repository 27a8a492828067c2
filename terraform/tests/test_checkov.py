"""checkov skips: each has a written reason and suppresses a real finding."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tfsupport import (
    ROOT,
    TF,
    test,
)

# --- checkov skips ------------------------------------------------------------

SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z0-9]+_\d+)(.*)")


@test
def every_checkov_skip_has_a_reason():
    found = 0
    for path in sorted(TF.rglob("*.tf")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            m = SKIP.search(line)
            if m:
                found += 1
                reason = m.group(2)
                assert reason.startswith(":") and len(reason[1:].strip()) >= 20, (
                    f"{path.relative_to(ROOT)}:{lineno}: {m.group(1)} needs a written reason (#checkov:skip=ID: why)"
                )
    assert found, "no skip comments found: the pattern is broken"


def start_checkov(directory: Path) -> subprocess.Popen:
    checkov = Path(sys.executable).parent / "checkov"
    return subprocess.Popen(
        [sys.executable, str(checkov), "-d", str(directory), "--framework", "terraform", "--skip-download", "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )


def checkov_results(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=300)
    data = json.loads(out)
    return data[0] if isinstance(data, list) else data


@test
def every_checkov_skip_suppresses_a_real_finding():
    """A skip that suppresses nothing is noise that hides a future finding."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "aws"
        shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform"))
        for path in copy.rglob("*.tf"):
            path.write_text("\n".join(l for l in path.read_text().splitlines() if not SKIP.search(l)) + "\n")
        # Both scans at once: each takes one core for ~20 s.
        with_skips, without_skips = start_checkov(TF), start_checkov(copy)
        skipped, unskipped = checkov_results(with_skips), checkov_results(without_skips)
    found = {(c["check_id"], c["resource"]) for c in unskipped["results"].get("failed_checks", [])}
    suppressed = {(c["check_id"], c["resource"]) for c in skipped["results"].get("skipped_checks", [])}
    assert suppressed, "checkov reported no skipped checks: the skip comments are not being read"
    useless = suppressed - found
    assert not useless, f"skips that suppress nothing (remove them): {sorted(useless)}"
