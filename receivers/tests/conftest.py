"""Make the library (and, for round trips, the gateway's signer) importable from a checkout."""

import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]
# The distribution's root holds the `receivers` package; the repository root holds `gateway`.
for _path in (_REPO_ROOT / "receivers", _REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
