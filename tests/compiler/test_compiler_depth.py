"""THE depth encoding (normalised inverse depth) and depth-map files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d
from sigmascene.compiler.depth import decode_depth, encode_depth, load_depth_map


def test_formula_endpoints_and_zero_for_no_geometry():
    d = np.array([[1.0, 2.0, 4.0, 0.0]])
    valid = np.array([[True, True, True, False]])
    code = encode_depth(d, valid)
    inv = (1 / 2.0 - 1 / 4.0) / (1 / 1.0 - 1 / 4.0)
    assert code.tolist() == [[255, 1 + round(254 * inv), 1, 0]]
    assert code.dtype == np.uint8


def test_fixed_range_and_single_depth():
    d = np.array([3.0, 3.0])
    assert encode_depth(d, np.ones(2, bool)).tolist() == [255, 255]
    assert encode_depth(np.array([0.5, 50.0]), np.ones(2, bool), near=1.0, far=10.0).tolist() == [255, 1]
    with pytest.raises(ValueError):
        encode_depth(d, np.ones(2, bool), near=5.0, far=1.0)


depths = arrays(np.float64, st.integers(2, 40), elements=st.floats(0.05, 500.0))


@settings(max_examples=80, deadline=None)
@given(depths)
def test_nearer_never_encodes_darker_and_decoding_inverts(d):
    code = encode_depth(d, np.ones(d.shape, bool))
    assert code.min() >= 1
    order = np.argsort(d, kind="stable")
    assert (np.diff(code[order].astype(int)) <= 0).all()  # monotone: farther is never brighter
    near, far = d.min(), d.max()
    if far > near:
        back = decode_depth(code, near, far)
        step = (1 / near - 1 / far) / 254  # one code in inverse depth
        assert np.all(np.abs(1 / back - 1 / d) <= step / 2 + 1e-9)


def test_nan_inf_and_non_positive_depths_are_never_valid():
    d = np.array([np.nan, np.inf, -1.0, 0.0, 2.0])
    assert encode_depth(d, np.ones(5, bool)).tolist() == [0, 0, 0, 0, 255]


def _scene_with_map(tmp_path, name) -> Scene:
    Image.new("RGB", (16, 16)).save(tmp_path / "r.png")
    s = Scene(canvas=(32, 32))
    s.base_dir = tmp_path
    s.add_subject("a", "r.png", box2d(0, 0, 1, 1), depth_map=name)
    return s


def test_npy_png16_and_float_tiff_depth_maps_agree(tmp_path):
    metres = np.linspace(1.0, 4.0, 16 * 16, dtype=np.float32).reshape(16, 16)
    np.save(tmp_path / "d.npy", metres)
    Image.fromarray(np.round(metres * 1000).astype(np.uint16)).save(tmp_path / "d.png")
    Image.fromarray(metres, mode="F").save(tmp_path / "d.tif")
    maps = [load_depth_map(tmp_path / n, None, 32, 32) for n in ("d.npy", "d.png", "d.tif")]
    for m in maps:
        assert m.shape == (32, 32) and m.dtype == np.float32
        np.testing.assert_allclose(m[::2, ::2], metres, atol=1e-3)  # nearest-neighbour, never blended
    c = sigmascene.compile(_scene_with_map(tmp_path, "d.png"))
    assert c.manifest["subjects"][0]["depth_source"] == "depth_map"
    assert c.depth.min() == pytest.approx(1.0, abs=1e-3) and c.depth.max() == pytest.approx(4.0, abs=1e-3)
    assert c.structure.max() == 255 and c.structure.min() == 1


def test_zero_pixels_in_a_depth_map_have_no_structure(tmp_path):
    d = np.full((32, 32), 2.0, np.float32)
    d[:, :8] = 0.0
    np.save(tmp_path / "holes.npy", d)
    c = sigmascene.compile(_scene_with_map(tmp_path, "holes.npy"))
    assert (c.structure[:, :8] == 0).all() and (c.structure[:, 8:] == 255).all()
    assert (c.ir_asc == 10).all()  # routing does not depend on depth being known


@pytest.mark.parametrize("make, message", [
    (lambda p: Image.new("L", (8, 8), 3).save(p / "x.png"), "8-bit|16-bit"),
    (lambda p: np.save(p / "x.npy", np.zeros((2, 2, 3))), "2-D"),
    (lambda p: (p / "x.npy").write_bytes(b"not numpy"), "not a readable"),
    (lambda p: (p / "x.exr").write_bytes(b"x"), "must be .npy"),
])
def test_unusable_depth_maps_are_located_errors(tmp_path, make, message):
    make(tmp_path)
    name = next(p.name for p in tmp_path.iterdir() if p.name.startswith("x."))
    text = f'sigma 1\ncanvas 32 x 32\nsubject a {{\n  ref "r.png"\n  box2d (0, 0, 1, 1)\n  depth_map "{name}"\n}}\n'
    Image.new("RGB", (16, 16)).save(tmp_path / "r.png")
    scene = sigmascene.loads(text, file=str(tmp_path / "s.sigma"), base_dir=tmp_path)
    with pytest.raises(sigmascene.SigmaError, match=message) as err:
        sigmascene.compile(scene)
    loc = err.value.diagnostics[0].loc
    assert loc is not None and loc.line == 6
