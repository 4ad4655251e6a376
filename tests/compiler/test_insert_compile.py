"""Compiling a scene with a `background`: photo-depth occlusion in the routing maps, the blend region, the
manifest, and the photo fitted to the canvas."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sigmascene
from sigmascene.compiler.background import cover_box, dilate
from sigmascene.errors import AssetError
from sigmascene.grammar import loads
from sigmascene.core.vocab import routing_intensity


@pytest.fixture
def room(tmp_path):
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[:, :32] = (150, 60, 40)  # a sofa on the left
    photo[:, 32:] = (200, 200, 190)  # a wall on the right
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "dog.png")
    depth = np.full((64, 64), 10.0, np.float32)
    depth[:, :32] = 1.0  # the sofa is 1 m away, the wall 10 m
    depth[0, 0] = 0.0  # one unknown pixel
    np.save(tmp_path / "depth.npy", depth)
    return tmp_path


def _scene(room, extra="", depth_line='background_depth "depth.npy"\n', dog_depth="depth 3"):
    return loads(f'sigma 1\nbackground "photo.png"\n{depth_line}{extra}'
                 f'subject dog {{ ref "dog.png" box2d (0.25, 0.25, 0.75, 0.75) {dog_depth} }}\n', base_dir=room)


def test_a_subject_behind_the_photos_sofa_is_hidden_where_the_sofa_is(room):
    compiled = sigmascene.compile(_scene(room))
    dog = routing_intensity(1)
    for routing in (compiled.ir_asc, compiled.ir_desc):
        assert not (routing[16:48, 16:32] == dog).any()  # behind the sofa (1 m < 3 m): covered
        assert (routing[16:48, 32:48] == dog).all()  # in front of the wall (3 m < 10 m): visible
    assert compiled.coverage["dog"][16:48, 16:48].all()  # the silhouette itself is unchanged


def test_without_photo_depth_or_subject_depth_nothing_is_hidden(room):
    for compiled in (sigmascene.compile(_scene(room, depth_line="")),
                     sigmascene.compile(_scene(room, dog_depth=""))):
        assert (compiled.ir_asc[16:48, 16:48] == routing_intensity(1)).all()


def test_blend_region_is_the_visible_subject_dilated_by_the_margin_and_is_in_the_manifest(room):
    compiled = sigmascene.compile(_scene(room), blend_margin=4)
    region = compiled.blend_region
    assert region[12:52, 28:52].all() and region.sum() == 40 * 24  # visible part (x 32..48) grown by 4 px
    entry = compiled.manifest["background"]
    assert entry["path"] == "photo.png" and entry["depth"] == "depth.npy" and entry["blend_margin_px"] == 4
    assert entry["blend_bbox_px"] == [28, 12, 52, 52] and entry["blend_pixels"] == 960
    assert np.array_equal(compiled.background, np.asarray(Image.open(room / "photo.png")))


def test_an_explicit_canvas_covers_it_with_the_photo_centre_cropped(room):
    compiled = sigmascene.compile(_scene(room, extra="canvas 32 x 16\n"))
    assert compiled.background.shape == (16, 32, 3)
    assert cover_box((64, 64), (32, 16)) == ((32, 32), (0, 8))


def test_a_missing_background_depth_is_a_located_asset_error(room):
    scene = loads('sigma 1\nbackground "photo.png"\nbackground_depth "gone.npy"\n'
                  'subject dog { ref "dog.png" box2d (0.25, 0.25, 0.75, 0.75) }\n', base_dir=room)
    with pytest.raises(AssetError) as err:
        sigmascene.compile(scene)
    assert err.value.diagnostics[0].loc.line == 3


def test_dilate_grows_a_pixel_into_a_square():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    assert dilate(m, 2).sum() == 25 and dilate(m, 2)[2:7, 2:7].all() and dilate(m, 0).sum() == 1


def test_a_corrupt_photo_is_a_located_asset_error_when_compiling(room):
    (room / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    scene = loads('sigma 1\ncanvas 64 x 64\nbackground "photo.png"\n'
                  'subject dog { ref "dog.png" box2d (0.25, 0.25, 0.75, 0.75) }\n', base_dir=room)
    with pytest.raises(AssetError) as err:
        sigmascene.compile(scene)
    d = err.value.diagnostics[0]
    assert "background photo" in d.message and (d.loc.line, d.loc.column) == (3, 12)
