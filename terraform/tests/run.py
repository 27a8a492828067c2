#!/usr/bin/env python3
"""Runs the terraform/ tests: python terraform/tests/run.py [name-fragment ...]

Prints PASS/FAIL/SKIP per test and a last line
`RESULT passed=N failed=M skipped=K`; exits non-zero when any test fails.
"""

from __future__ import annotations

import sys
import traceback

# Importing a test module registers its tests, in this order.
import test_manifest  # noqa: F401  isort: skip
import test_validations  # noqa: F401  isort: skip
import test_structure  # noqa: F401  isort: skip
import test_rollout  # noqa: F401  isort: skip
import test_checkov  # noqa: F401  isort: skip
from tfsupport import TESTS, Skipped


def main() -> int:
    selected = sys.argv[1:]
    passed = failed = skipped = 0
    for fn in TESTS:
        if selected and not any(s in fn.__name__ for s in selected):
            continue
        try:
            fn()
        except Skipped as why:
            skipped += 1
            print(f"SKIP {fn.__name__}: {why}")
        except Exception as exc:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            detail = str(exc) if isinstance(exc, AssertionError) and str(exc) else traceback.format_exc()
            print(f"FAIL {fn.__name__}\n      {detail}")
        else:
            passed += 1
            print(f"PASS {fn.__name__}")
    print(f"RESULT passed={passed} failed={failed} skipped={skipped}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
