"""The import contracts of `make lint` (pyproject ``[tool.importlinter]``) hold, and bite.

DESIGN §3: imports point one way (core ← accounts ← market ← strategy ← portfolio ←
operations ← compat) and the pure
computation imports no Django. The second test copies the apps, adds one back-import and checks
that lint-imports fails on it: a contract that cannot fail would prove nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "accounts", "market", "strategy", "portfolio", "operations", "compat")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS_CONTRACT = "Apps import downwards only (DESIGN 3 layers)"
PURE_ENGINE_CONTRACT = "Engine, knob table and metrics are pure"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (a fixed command of our own venv)
        [str(LINT_IMPORTS), "--no-cache", str(cwd / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_project(target: Path) -> Path:
    for app in APPS:
        shutil.copytree(ROOT / app, target / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_the_code_base_keeps_every_import_contract():
    result = _lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_market_importing_portfolio_breaks_the_layers_contract(tmp_path):
    project = _copy_project(tmp_path)
    with (project / "market" / "selectors" / "assets.py").open("a") as module:
        module.write("\nfrom portfolio.models import Index  # noqa: E402, F401\n")

    result = _lint_imports(project)

    assert result.returncode == 1
    assert f"{LAYERS_CONTRACT} BROKEN" in result.stdout
    assert "market.selectors.assets -> portfolio.models" in result.stdout


def test_the_engine_importing_django_breaks_the_purity_contract(tmp_path):
    project = _copy_project(tmp_path)
    with (project / "strategy" / "engine.py").open("a") as module:
        module.write("\nimport django.db  # noqa: E402, F401\n")

    result = _lint_imports(project)

    assert result.returncode == 1
    assert f"{PURE_ENGINE_CONTRACT} BROKEN" in result.stdout
