"""The layout image (compiler/layout_image.py): cut-outs fitted into their regions, painted in the routing maps'
order, on the background photo or the neutral fill."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d, box3d, camera, polygon
from sigmascene.compiler.cutouts import cut_out, scene_cutouts
from sigmascene.compiler.layout_image import NEUTRAL_FILL, fit_cutout, layout_image
from sigmascene.errors import AssetError

COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (220, 200, 30), (200, 30, 200)]


def _opaque(path, colour, size=(40, 24)):
    Image.new("RGB", size, colour).save(path)


def _transparent(path, colour, size=(32, 32)):
    a = np.zeros((size[1], size[0], 4), np.uint8)
    yy, xx = np.mgrid[: size[1], : size[0]]
    disc = (yy - size[1] / 2) ** 2 + (xx - size[0] / 2) ** 2 < (min(size) / 2.2) ** 2
    a[disc] = (*colour, 255)
    Image.fromarray(a, "RGBA").save(path)


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    for i, c in enumerate(COLOURS):
        _opaque(d / f"o{i}.png", c, (24 + 8 * i, 40 - 4 * i))
        _transparent(d / f"t{i}.png", c, (32 + 4 * i, 28))
    return d


def _mostly(pixels, colour) -> bool:
    """Pixels that are `colour` but for Lanczos ringing at a cut-out's hard edge: the median is the colour."""
    return bool((np.abs(np.median(pixels.astype(int), axis=0) - colour) <= 2).all())


def _placed_masks(compiled, cutouts):
    """Each subject's own cut-out pixels on the canvas (fitted, clipped to its silhouette), independently."""
    h, w = compiled.control.shape[:2]
    out = {}
    for name in compiled.order:
        cov = compiled.coverage[name]
        full = np.zeros((h, w), bool)
        if cov.any():
            rows, cols = np.flatnonzero(cov.any(1)), np.flatnonzero(cov.any(0))
            _, m, (x0, y0, x1, y1) = fit_cutout(cutouts[name], (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
            full[y0:y1, x0:x1] = m
        out[name] = full & cov
    return out


placements = st.one_of(
    st.builds(lambda a, b, c, d: box2d(min(a, b), min(c, d), max(a, b) + 0.05, max(c, d) + 0.05),
              *[st.floats(0, 0.9)] * 4),
    st.builds(lambda x, y, r: polygon((x, y), (x + r, y), (x + r / 2, y + r)), st.floats(0, 0.7), st.floats(0, 0.6),
              st.floats(0.1, 0.3)),
    st.builds(lambda x, y, z, s, yaw: box3d((x, y, z), (s, s, s), yaw=yaw), st.floats(-1, 1), st.floats(-1, 1),
              st.floats(-6, -2), st.floats(0.3, 1.5), st.floats(0, 90)),
)


@st.composite
def layout_scenes(draw):
    n = draw(st.integers(2, 4))
    s = Scene(canvas=(16 * draw(st.integers(2, 5)), 16 * draw(st.integers(2, 5))), prompt="a room",
              camera=camera((0, 0, 0), None, 60))
    for i in range(n):
        ref = f"{draw(st.sampled_from('ot'))}{i}.png"
        rel = {}
        if i and draw(st.booleans()):
            rel[draw(st.sampled_from(["behind", "in_front_of"]))] = f"s{draw(st.integers(0, i - 1))}"
        s.add_subject(f"s{i}", ref, draw(placements), depth=draw(st.none() | st.floats(0.5, 9)), **rel)
    return s


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scene=layout_scenes())
def test_paint_order_equals_the_routing_maps_order_wherever_two_cutouts_overlap(refs, scene):
    scene.base_dir = refs
    compiled = sigmascene.compile(scene)
    cutouts, _ = scene_cutouts(scene)
    layout = layout_image(compiled, cutouts=cutouts)
    masks = _placed_masks(compiled, cutouts)
    value = {n: compiled.intensity(n) for n in compiled.order}
    stack = np.stack([masks[n] for n in compiled.order])  # far -> near
    count = stack.sum(0)
    # every subject pixel shows a subject whose cut-out is there; nothing else is painted
    assert ((layout.owner > 0) == (count > 0)).all()
    for n in compiled.order:
        assert (masks[n][layout.owner == value[n]]).all()
    # overlaps: the routing map's nearest subject when its cut-out is there, else the last painted (nearest in order)
    asc = compiled.ir_asc
    ys, xs = np.nonzero(count >= 2)
    for y, x in zip(ys, xs):
        here = [value[n] for n in compiled.order if masks[n][y, x]]
        want = asc[y, x] if asc[y, x] in here else max(here)
        assert layout.owner[y, x] == want
    # the picture is the subjects' colours where they show, the fill elsewhere
    assert (layout.rgb[layout.owner == 0] == NEUTRAL_FILL).all()
    assert layout.rgba.shape == (*layout.rgb.shape[:2], 4)
    assert (layout.rgba[..., 3] == np.where(layout.owner > 0, 255, 0)).all()


def test_each_reference_covers_its_own_box_and_the_nearer_covers_the_overlap(refs):
    s = Scene(canvas=(96, 64), prompt="a room", base_dir=refs)
    s.add_subject("far", "o0.png", box2d(0.05, 0.1, 0.6, 0.8), depth=4.0)  # opaque, 24x40
    s.add_subject("near", "t2.png", box2d(0.4, 0.3, 0.95, 0.95), depth=1.5)  # transparent disc
    compiled = sigmascene.compile(s)
    layout = layout_image(compiled)
    assert layout.rgb.shape == (64, 96, 3)
    assert layout.sources == {"far": "rectangle", "near": "alpha"}
    assert any("'far' has no transparency" in w and "matte" in w for w in layout.warnings)
    x0, y0, x1, y1 = layout.boxes["far"]
    x0r, y0r, x1r, y1r = layout.regions["far"]
    assert x0r <= x0 < x1 <= x1r and y0r <= y0 < y1 <= y1r
    assert (y1 - y0, x1 - x0) == (y1r - y0r, round(24 * (y1r - y0r) / 40))  # aspect kept, fitted to the height
    far_px = layout.subject_mask("far")
    near_px = layout.subject_mask("near")
    assert far_px[y0:y1, x0:x1].mean() > 0.6 and not near_px[~compiled.coverage["near"]].any()
    assert (layout.rgb[far_px] == COLOURS[0]).all()
    disc = near_px & compiled.coverage["far"]
    assert disc.any() and _mostly(layout.rgb[disc], COLOURS[2])  # the nearer one covers the overlap
    assert not (far_px & near_px).any()


def test_the_background_photo_is_the_layouts_background(refs, tmp_path):
    Image.new("RGB", (96, 64), (10, 90, 160)).save(tmp_path / "photo.png")
    s = Scene(canvas=(96, 64), prompt="a room", base_dir=refs)
    s.set_background(str(tmp_path / "photo.png"))
    s.add_subject("cup", "t1.png", box2d(0.3, 0.3, 0.6, 0.9))
    layout = layout_image(sigmascene.compile(s))
    assert (layout.rgb[~layout.alpha] == (10, 90, 160)).all()
    assert _mostly(layout.rgb[layout.alpha], COLOURS[1])


def test_a_matte_statement_cuts_an_opaque_reference_and_wins_over_its_rectangle(refs, tmp_path):
    m = np.zeros((40, 24), np.uint8)  # the reference o0.png is 24 x 40
    m[10:30, 4:20] = 255
    Image.fromarray(m, "L").save(tmp_path / "matte.png")
    s = Scene(canvas=(64, 64), prompt="x", base_dir=refs)
    subj = s.add_subject("a", "o0.png", box2d(0, 0, 1, 1), matte=str(tmp_path / "matte.png"))
    cut, warnings = cut_out(s, subj)
    assert cut.source == "matte" and warnings == []
    assert cut.crop == (4, 10, 20, 30) and cut.alpha.all()


def test_the_references_own_alpha_is_the_cutout(refs):
    s = Scene(canvas=(64, 64), prompt="x", base_dir=refs)
    cut, warnings = cut_out(s, s.add_subject("a", "t0.png", box2d(0, 0, 1, 1)))
    assert cut.source == "alpha" and warnings == []
    assert 0 < cut.alpha.mean() < 1  # the disc's corners stay transparent
    assert cut.rgba.shape[1] < 32  # cropped to the disc


def test_a_segmenter_cuts_an_opaque_reference_when_nothing_better_is_given(refs):
    class Half:
        id = "half"

        def __call__(self, image, caption):
            m = np.zeros((image.size[1], image.size[0]), bool)
            m[:, : image.size[0] // 2] = True
            return m

    s = Scene(canvas=(64, 64), prompt="x", base_dir=refs)
    cut, warnings = cut_out(s, s.add_subject("a", "o1.png", box2d(0, 0, 1, 1)), segmenter=Half())
    assert cut.source == "segmentation" and warnings == [] and cut.crop == (0, 0, 16, 36)


def test_a_matte_of_another_size_is_one_located_error(refs, tmp_path):
    Image.new("L", (10, 10), 255).save(tmp_path / "small.png")
    s = Scene(canvas=(64, 64), prompt="x", base_dir=refs)
    subj = s.add_subject("a", "o0.png", box2d(0, 0, 1, 1), matte=str(tmp_path / "small.png"))
    with pytest.raises(AssetError, match=r"matte is 10x10 px but its reference is 24x40 px"):
        cut_out(s, subj)


def test_an_unreadable_matte_is_one_clear_error(refs, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    s = Scene(canvas=(64, 64), prompt="x", base_dir=refs)
    subj = s.add_subject("a", "o0.png", box2d(0, 0, 1, 1), matte=str(tmp_path / "broken.png"))
    with pytest.raises(AssetError, match="matte is not an image"):
        cut_out(s, subj)
