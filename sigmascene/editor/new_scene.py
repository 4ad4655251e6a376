"""A new scene that starts right: a template whose one subject uses a bundled placeholder reference.

`sigmascene edit NEW.sigma` opens TEMPLATE. Its reference `refs/subject.png` does not exist in the folder yet, and
nothing is written before Save, so until then the compile reads the placeholder from a private temporary folder;
Save copies it into the scene's folder (never over a file that is there) so the saved file passes `check`.
Dropping the user's own image on the Inspector replaces it through the ordinary upload API.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from pathlib import Path

from ..scene import Scene

PLACEHOLDER_REF = "refs/subject.png"

TEMPLATE = f'''# A new scene: drag the box in the picture, or type here.
# The subject's reference is a placeholder: drop your own image on the Inspector to replace it.
sigma 1
canvas 1024 x 1024
seed 0
prompt "a quiet room"
compose "@subject on the floor"
camera {{
    position (0, 1.6, 4)
    look_at (0, 0.8, 0)
    fov 55 deg
}}

subject subject {{
    ref "{PLACEHOLDER_REF}"
    caption "a subject"
    box2d (0.3, 0.4, 0.7, 0.9)
    depth 3
}}
'''


def placeholder_png() -> bytes:
    """A neutral figure on grey (drawn, not shipped as a binary): obviously a stand-in, and a valid reference."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (256, 256), (196, 196, 192))
    d = ImageDraw.Draw(img)
    d.ellipse((92, 28, 164, 100), fill=(120, 120, 126))
    d.rounded_rectangle((64, 108, 192, 236), radius=28, fill=(120, 120, 126))
    d.rectangle((0, 0, 255, 255), outline=(90, 90, 96), width=4)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def placeholder_file() -> Path:
    """The placeholder as a file the compiler can read, in a folder private to this process."""
    folder = Path(tempfile.mkdtemp(prefix="sigmascene-placeholder-"))
    path = folder / "subject.png"
    path.write_bytes(placeholder_png())
    return path


def missing_placeholders(scene: Scene) -> list[int]:
    """Indexes of the subjects whose reference is the template's placeholder and is not in the folder yet."""
    return [k for k, s in enumerate(scene.subjects)
            if s.ref == PLACEHOLDER_REF and not (scene.base_dir / PLACEHOLDER_REF).exists()]


def with_placeholder(scene: Scene) -> Scene:
    """The scene to compile before Save: placeholder references read from the bundled copy. The text, the saved
    file and every other reference are untouched; only this in-memory copy points outside the folder, at a file
    the editor wrote itself, so it is compiled unconfined."""
    ks = missing_placeholders(scene)
    if not ks:
        return scene
    subjects = [s.model_copy(update={"ref": str(placeholder_file())}) if k in ks else s
                for k, s in enumerate(scene.subjects)]
    out = scene.model_copy(update={"subjects": subjects})
    out.root = None
    return out


def copy_placeholder(scene: Scene | None, root: Path) -> Path | None:
    """On save: put the placeholder where the saved file names it, when it names it and nothing is there.
    Created exclusively (O_EXCL: never over a file, never through a link) inside `root` only."""
    if scene is None or not missing_placeholders(scene):
        return None
    target = scene.base_dir / PLACEHOLDER_REF
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.parent.resolve().is_relative_to(root.resolve()):
        return None  # a `refs` link leading out of the folder: leave the reference missing, `check` says so
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return None
    with os.fdopen(fd, "wb") as fh:
        fh.write(placeholder_png())
    return target
