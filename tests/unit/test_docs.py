"""The docs stay true: every setting is in the README's table, and nothing else is."""

import re
from pathlib import Path

from gateway.config import documented_settings

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `(GATEWAY_[A-Z_]+)` \|", readme, re.MULTILINE))
    assert listed == set(documented_settings())


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for script in ("scripts/demo", "scripts/test"):
        assert f"./{script}" in readme
        assert (ROOT / script).stat().st_mode & 0o111
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
