"""Cut-outs by a local segmentation model: the data recipe's SAM (+ detector) stages, reused through
rendering/cutout_models.py, on tiny random-weight folders (sigmascene/testing/tiny_stages.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sigmascene import Scene, box2d
from sigmascene.compiler.cutouts import cut_out
from sigmascene.errors import ConfigError
from sigmascene.rendering.cutout_models import RecipeSegmenter, check_cutout_models, load_segmenter
from sigmascene.testing.tiny_stages import save_tiny_owlv2, save_tiny_sam


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    return save_tiny_sam(root / "sam"), save_tiny_owlv2(root / "owlv2")


def _ref(tmp_path):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(tmp_path / "ref.png")
    s = Scene(canvas=(64, 64), prompt="x", base_dir=tmp_path)
    return s, s.add_subject("mug", "ref.png", box2d(0, 0, 1, 1), caption="a blue mug")


@pytest.mark.parametrize("with_detector", [False, True], ids=["sam", "owlv2+sam"])
def test_a_tiny_local_segmentation_model_cuts_out_an_opaque_reference(folders, tmp_path, with_detector):
    sam, det = check_cutout_models(folders[0], folders[1] if with_detector else None)
    seg = load_segmenter(sam, det, "cpu")
    assert isinstance(seg, RecipeSegmenter) and seg.model.m_sam is not None
    assert (seg.model.m_det is not None) is with_detector and str(sam) in seg.id
    scene, subject = _ref(tmp_path)
    mask = seg(Image.open(tmp_path / "ref.png").convert("RGB"), "a blue mug")
    assert mask is not None and mask.shape == (40, 56) and mask.dtype == bool and 0 < mask.mean() < 1
    cut, warnings = cut_out(scene, subject, segmenter=seg)
    assert cut.source == "segmentation" and warnings == []
    x0, y0, x1, y1 = cut.crop
    assert cut.alpha.shape == (y1 - y0, x1 - x0) and (cut.alpha == mask[y0:y1, x0:x1]).all()


def test_render_segmenter_option_cuts_out_references_in_the_layout(folders, tmp_path):
    import sigmascene
    from sigmascene.testing.tiny_stages import save_tiny_flux

    base = save_tiny_flux(tmp_path / "kontext", kontext=True)
    scene, _ = _ref(tmp_path)
    notes: list[str] = []
    got = sigmascene.render(scene, base=str(base), steps=1, output_type="latent", segmenter=str(folders[0]),
                            note=notes.append)
    side = got.sidecars[0]
    assert side["method"] == "collage" and side["layout"]["cutouts"] == {"mug": "segmentation"}
    assert "--segmenter" in side["command"] and not any("no transparency" in n for n in notes)
    with pytest.raises(ConfigError, match="--segmenter is an option of the collage"):
        sigmascene.render(scene, method="sigma", steps=1, segmenter=str(folders[0]))


def test_model_folders_are_checked_before_loading(folders, tmp_path):
    with pytest.raises(ConfigError, match="--segmenter .* holds a `owlv2` model"):
        check_cutout_models(folders[1], None)
    with pytest.raises(ConfigError, match="--detector .* holds a `sam` model"):
        check_cutout_models(folders[0], folders[0])
    with pytest.raises(ConfigError, match="no --segmenter"):
        check_cutout_models(None, folders[1])
    with pytest.raises(ConfigError, match="not a transformers model folder"):
        check_cutout_models(tmp_path, None)
