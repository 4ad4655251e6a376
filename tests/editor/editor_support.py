"""What the editor tests share: the token every test app is made with, the headers that carry it, and a copy of
the bundled living room (scene, include, references, masks, meshes) in a folder of the test's own."""

import shutil
from pathlib import Path

from repo_paths import EXAMPLES

TOKEN = "test-token"
H = {"X-Sigmascene-Token": TOKEN}
#: Debian's chromium (scripts/setup.sh); Playwright's own browser download is not used.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def copy_living_room(folder: Path) -> Path:
    """The example living room copied into `folder` (created if missing); its scene file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("living_room.sigma", "furniture.sigma"):
        shutil.copy(EXAMPLES / name, folder / name)
    for sub in ("refs", "masks", "meshes"):
        shutil.copytree(EXAMPLES / sub, folder / sub)
    return folder / "living_room.sigma"
