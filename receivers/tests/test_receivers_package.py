"""The distribution stays self-contained, and its documentation stays true."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from receivers_testkit import DIST_ROOT, EXAMPLES

from receivers import Reason

LIBRARY = DIST_ROOT / "receivers"
OPTIONAL = {"flask", "aiohttp"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_library_imports_only_the_stdlib_pyjwt_and_optional_frameworks() -> None:
    allowed = set(sys.stdlib_module_names) | {"jwt", "receivers"}
    for module in LIBRARY.rglob("*.py"):
        extra = imported_roots(module) - allowed
        framework_adapter = module.parent.name == "adapters" and module.stem in OPTIONAL
        assert extra <= ({module.stem} if framework_adapter else set()), (module, extra)


def test_pyjwt_is_the_only_runtime_dependency() -> None:
    project = tomllib.loads((DIST_ROOT / "pyproject.toml").read_text())["project"]

    assert project["name"] == "data-connector-receivers"
    assert [re.split(r"[<>=!~ ]", dep)[0].lower() for dep in project["dependencies"]] == ["pyjwt"]
    assert set(project["optional-dependencies"]) >= OPTIONAL


def test_importing_the_library_loads_no_framework_and_no_gateway(tmp_path: Path) -> None:
    code = (
        "import sys, receivers, receivers.adapters.aws_lambda\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'aiohttp', 'gateway'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(DIST_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "[]"


def test_the_package_is_typed() -> None:
    assert (LIBRARY / "py.typed").is_file()


def test_the_readme_explains_every_reason() -> None:
    readme = (DIST_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", readme, flags=re.MULTILINE))

    assert documented == {reason.value for reason in Reason}


def test_the_examples_require_this_distribution() -> None:
    for example in ("cloud_function", "heroku"):
        requirements = (EXAMPLES / example / "requirements.txt").read_text().splitlines()
        assert any(line.startswith("data-connector-receivers") for line in requirements), example


def test_the_procfile_runs_gunicorn_on_port() -> None:
    procfile = (EXAMPLES / "heroku" / "Procfile").read_text().strip()

    assert procfile.startswith("web: gunicorn app:app")
    assert "$PORT" in procfile
    assert re.fullmatch(r"3\.\d+", (EXAMPLES / "heroku" / ".python-version").read_text().strip())
