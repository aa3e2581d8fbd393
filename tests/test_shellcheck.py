"""Every shell script of the recipes passes shellcheck (settings in egs2/.shellcheckrc).

shellcheck comes with `make install` (tools/install.sh, a Debian package); CI runs this test.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

EGS2 = Path(__file__).resolve().parents[1] / "egs2"


def recipe_scripts():
    """The scripts themselves, not the recipes' links to the template."""
    return sorted(p for p in EGS2.rglob("*.sh") if not p.is_symlink() and not any(
        part in ("data", "dump", "exp", "downloads") for part in p.relative_to(EGS2).parts))


def test_recipe_scripts_are_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (make install installs it as root: apt-get install shellcheck)")
    scripts = recipe_scripts()
    assert len(scripts) >= 10, scripts
    out = subprocess.run(["shellcheck", "-x", *map(str, scripts)], cwd=EGS2, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout[-6000:]
