"""Where the recipes live, and how tests run one in a scratch copy."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "egs2/TEMPLATE/spire1"   # spire.sh, path.sh, cmd.sh, utils/, scripts/
PAPER = ROOT / "egs2/spire/spire1"         # the paper's recipe
DEMO = ROOT / "egs2/spire_demo/spire1"     # the demo recipe
UTILS = TEMPLATE / "utils"
# What a recipe run needs from the environment: path.sh finds tools/venv through SPIRE_ROOT.
RECIPE_ENV = {"PATH": "/usr/bin:/bin", "SPIRE_ROOT": str(ROOT)}


def copy_recipe(recipe: Path, dest: Path) -> Path:
    """A scratch copy of ``recipe`` at ``dest`` without its outputs (data, dump, exp, ...).

    The links into the template are followed (a copy outside egs2/ cannot resolve them).
    """
    outputs = shutil.ignore_patterns("data", "dump", "exp", "downloads", "RESULTS.md")
    shutil.copytree(recipe, dest, symlinks=False, ignore=outputs)
    return dest
