"""What the editor tests share: the token every test app is made with, the headers that carry it, a copy of
the bundled living room (scene, include, references, masks, meshes) in a folder of the test's own, the editor
served as `sigmascene edit` serves it, a page opened on it, and the screenshots docs/editor.md is made from."""

import os
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


class EditorServer:
    """The editor for `scene` served from a thread exactly as `sigmascene edit` serves it
    (`sigmascene.editor.serve`), with `api`, an HTTP client that carries the token."""

    def __init__(self, scene: Path, token: str = TOKEN):
        import httpx

        from sigmascene.editor.serve import ServedInThread

        self.served = ServedInThread(scene, token)
        self.scene, self.port, self.base, self.token = scene, self.served.port, self.served.base, token
        self.api = httpx.Client(base_url=self.base, headers={"X-Sigmascene-Token": token}, timeout=120)

    def stop(self) -> None:
        self.api.close()
        self.served.stop()


def open_page(browser, srv: EditorServer):
    """A 1440x1000 page on the editor, once its first maps are on screen, and the list its page errors go to."""
    pg = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{srv.base}/?token={srv.token}")
    pg.wait_for_selector("body[data-maps-revision]", timeout=90_000)
    return pg, errors


def shot(page, name: str) -> None:
    """Keep a screenshot in $SIGMASCENE_EDITOR_SHOTS when it is set (docs/editor.md's pictures)."""
    folder = os.environ.get("SIGMASCENE_EDITOR_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
