"""Issue 18's reproducers on the asset side: references and masks go through one loader (upright, 8-bit, one
frame, a pixel limit before decoding) and every OS failure is a located AssetError, never a traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.compiler import assets
from sigmascene.compiler.assets import MAX_PIXELS, load_mask, load_rgb
from sigmascene.errors import AssetError, SigmaError
from sigmascene.testing.files import png_claiming_size

runner = CliRunner()


def _scene(tmp_path: Path, body: str, camera: str = "") -> Path:
    f = tmp_path / "s.sigma"
    f.write_text("sigma 1\ncanvas 64 x 48\n" + camera + body)
    return f


def _compile(f: Path):
    return sigmascene.compile(sigmascene.load(f))


@pytest.fixture(autouse=True)
def _fresh_cache():
    assets.clear_cache()
    yield
    assets.clear_cache()


# -- pixels --------------------------------------------------------------------------------------------------------
def test_a_16_bit_png_reference_is_scaled_not_clipped_to_white(tmp_path):
    grey = np.full((20, 30), 32768, dtype=np.uint16)  # mid grey in 16 bits
    Image.fromarray(grey).save(tmp_path / "r16.png")
    assert Image.open(tmp_path / "r16.png").mode.startswith("I")
    rgb = load_rgb(tmp_path / "r16.png", None)
    assert rgb.shape == (20, 30, 3) and abs(int(rgb[0, 0, 0]) - 128) <= 1


def test_exif_orientation_is_applied_to_references_and_masks(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    im.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    rgb = load_rgb(tmp_path / "phone.jpg", None)
    assert rgb.shape == (40, 20, 3)  # upright: portrait
    assert rgb[2, 10, 2] > 200 and rgb[-3, 10, 0] > 200  # stored-left blue is now on top

    m = np.zeros((20, 40), np.uint8)
    m[:, :10] = 255
    Image.fromarray(m).save(tmp_path / "mask.png", exif=exif.tobytes())
    mask = load_mask(tmp_path / "mask.png", None, 20, 40)
    assert mask[:10].all() and not mask[-10:].any()


@pytest.mark.parametrize("mode", ["P", "PA", "CMYK", "LA", "1", "YCbCr", "I;16", "F"])
def test_every_image_mode_loads_as_8_bit_rgb(tmp_path, mode):
    base = Image.new("RGB", (16, 12), (200, 100, 50))
    im = base.convert("RGBA").convert(mode) if mode in ("PA", "LA") else base.convert(mode) \
        if mode not in ("I;16", "F") else Image.fromarray(np.full((12, 16), 0.5 if mode == "F" else 40000,
                                                                  np.float32 if mode == "F" else np.uint16))
    path = tmp_path / ("x.tif" if mode in ("CMYK", "YCbCr", "F", "PA") else "x.png")
    if mode == "YCbCr":
        path = tmp_path / "x.jpg"
    im.save(path)
    rgb = load_rgb(path, None)
    assert rgb.dtype == np.uint8 and rgb.shape == (12, 16, 3)
    assert 0 < int(rgb.mean()) < 255


def test_a_palette_image_with_transparency_is_composited_over_white(tmp_path):
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0] + [255, 0, 0] * 255)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    assert (load_rgb(tmp_path / "p.png", None) == 255).all()


def test_an_animated_reference_uses_its_first_frame_with_a_note(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    f = _scene(tmp_path, 'subject a { ref "anim.gif" box2d (0, 0, 1, 1) }\n')
    compiled = _compile(f)
    assert any("animated (3 frames); its first frame" in w and ":3:" in w for w in compiled.warnings)
    assert compiled.identity[..., 0].max() > 200  # red: the first frame


@pytest.mark.parametrize("kind", ["ref", "mask"])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, kind):
    png_claiming_size(tmp_path / "bomb.png", 30000, 30000)  # 900 megapixels claimed by a tiny file
    (tmp_path / "r.png").write_bytes((tmp_path / "bomb.png").read_bytes() if kind == "ref" else b"")
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    body = ('subject a { ref "bomb.png" box2d (0, 0, 1, 1) }\n' if kind == "ref"
            else 'subject a { ref "ok.png" mask "bomb.png" }\n')
    with pytest.raises(AssetError) as exc:
        _compile(_scene(tmp_path, body))
    d = exc.value.diagnostics[0]
    assert f"{MAX_PIXELS // 1_000_000} megapixel limit" in d.message and d.loc.line == 3


# -- OS errors -----------------------------------------------------------------------------------------------------
def test_a_reference_name_over_255_bytes_is_a_located_error_at_compile(tmp_path):
    f = _scene(tmp_path, f'subject a {{ ref "{"r" * 300}.png" box2d (0, 0, 1, 1) }}\n')
    sigmascene.load(f)  # check has nothing to read
    with pytest.raises(AssetError) as exc:
        _compile(f)
    assert "too long" in exc.value.diagnostics[0].message and exc.value.diagnostics[0].loc.line == 3


def test_a_nul_byte_in_a_reference_path_is_a_located_error(tmp_path):
    f = _scene(tmp_path, 'subject a { ref "a\\u0000.png" box2d (0, 0, 1, 1) }\n')
    with pytest.raises(AssetError) as exc:
        _compile(f)
    assert "NUL byte" in exc.value.diagnostics[0].message


def test_a_reference_that_is_a_fifo_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(AssetError) as exc:
        _compile(_scene(tmp_path, 'subject a { ref "pipe.png" box2d (0, 0, 1, 1) }\n'))
    assert "not a regular file" in exc.value.diagnostics[0].message


def test_an_unreadable_reference_is_a_located_error(tmp_path, monkeypatch):
    Image.new("RGB", (8, 8)).save(tmp_path / "r.png")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **kw: False if str(p).endswith("r.png") else real(p, m, **kw))
    with pytest.raises(AssetError) as exc:
        _compile(_scene(tmp_path, 'subject a { ref "r.png" box2d (0, 0, 1, 1) }\n'))
    assert "permission denied" in exc.value.diagnostics[0].message


def test_compile_into_a_read_only_folder_is_a_clean_error(tmp_path, monkeypatch):
    Image.new("RGB", (8, 8)).save(tmp_path / "r.png")
    f = _scene(tmp_path, 'subject a { ref "r.png" box2d (0, 0, 1, 1) }\n')

    real_mkdir = os.mkdir

    def read_only(path, *a, **kw):  # root may write anywhere, so the refusal is made, not found
        if str(path).startswith(str(tmp_path / ".out")) or str(path).startswith(str(tmp_path / "out")):
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out"))
        return real_mkdir(path, *a, **kw)

    monkeypatch.setattr(os, "mkdir", read_only)
    res = runner.invoke(app, ["compile", str(f), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "Permission denied" in res.output and str(tmp_path / "out") in res.output


def test_train_config_on_a_full_disk_is_a_clean_error(tmp_path, monkeypatch):
    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cfg.toml"))

    monkeypatch.setattr(Path, "write_text", full)
    res = runner.invoke(app, ["train", "--init", str(tmp_path / "cfg.toml")])
    assert res.exit_code == 1 and "No space left on device" in res.output


def test_an_unknown_train_config_section_is_located_at_its_header(tmp_path):
    from sigmascene.train.config_file import load_config

    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[data]\nroot = "d"\n\n[modle]\nbase = "x"\n')
    with pytest.raises(SigmaError) as exc:
        load_config(cfg)
    d = next(d for d in exc.value.diagnostics if "modle" in d.message)
    assert d.loc is not None and (d.loc.line, d.loc.column) == (4, 2) and "model" in (d.hint or "")


# -- geometry ------------------------------------------------------------------------------------------------------
def test_a_box_around_the_camera_is_not_called_outside_the_view(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "r.png")
    f = _scene(tmp_path, 'subject room { ref "r.png" box3d { center (0, 0, 0) size (10, 10, 10) } }\n'
                         'subject a { ref "r.png" box2d (0, 0, 1, 1) depth 2 }\n')
    try:
        compiled = _compile(f)
    except SigmaError as err:
        if "OpenGL" in str(err):
            pytest.skip("no OpenGL renderer on this machine")
        raise
    w = [w for w in compiled.warnings if "'room'" in w]
    assert w and "camera is inside it" in w[0] and "outside the camera view" not in w[0]


def test_a_mesh_too_small_to_draw_is_a_geometry_error(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "r.png")
    tri = trimesh.creation.icosphere(subdivisions=1)
    tri.vertices *= 1e-200
    tri.export(tmp_path / "tiny.obj")
    f = _scene(tmp_path, 'subject a { ref "r.png" mesh "tiny.obj" { position (0, 0, -2) } }\n')
    with pytest.raises(SigmaError) as exc:
        _compile(f)
    msg = exc.value.diagnostics[0].message
    assert "OpenGL" not in msg and ("across" in msg or "mesh" in msg)
