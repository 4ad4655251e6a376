"""The collage statements: `matte "file"` in a subject and the scene's `instruction "..."`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d
from sigmascene.compiler.filecheck import check_scene_file
from sigmascene.errors import AssetError
from sigmascene.grammar import dumps, parse_file, parse_text
from sigmascene.scene.prompts import build_instruction

TEXT = '''sigma 1
canvas 64 x 64
prompt "a room"
instruction "Make @cup shine on the table"  # the collage's own instruction

subject cup {
    ref "refs/cup.png"
    matte "mattes/cup.png"  # white = the cup
    box2d (0.1, 0.1, 0.5, 0.5)
}
'''


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "refs").mkdir()
    (tmp_path / "mattes").mkdir()
    Image.new("RGB", (20, 10), (200, 0, 0)).save(tmp_path / "refs/cup.png")
    m = np.zeros((10, 20), np.uint8)
    m[2:8, 5:15] = 255
    Image.fromarray(m).save(tmp_path / "mattes/cup.png")
    (tmp_path / "scene.sigma").write_text(TEXT)
    return tmp_path


def test_matte_and_instruction_parse_and_print_back_unchanged(folder):
    scene = parse_file(folder / "scene.sigma")
    assert scene.subjects[0].matte == "mattes/cup.png"
    assert scene.instruction == "Make @cup shine on the table"
    assert dumps(scene) == TEXT
    assert build_instruction(scene) == "Make cup shine on the table"


def test_the_builder_writes_the_same_statements():
    s = Scene(canvas=(64, 64), prompt="a room")
    s.instruction = "Make @cup shine"
    s.add_subject("cup", "refs/cup.png", box2d(0.1, 0.1, 0.5, 0.5), matte="mattes/cup.png")
    text = dumps(s)
    assert 'matte "mattes/cup.png"' in text and 'instruction "Make @cup shine"' in text
    again = parse_text(text)
    assert again.subjects[0].matte == "mattes/cup.png" and again.instruction == "Make @cup shine"


def test_check_accepts_a_good_matte_and_names_a_matte_of_another_size(folder):
    assert check_scene_file(folder / "scene.sigma") == []
    Image.new("L", (8, 8), 255).save(folder / "mattes/cup.png")
    found = check_scene_file(folder / "scene.sigma")
    assert len(found) == 1
    d = found[0]
    assert "matte is 8x8 px but its reference is 20x10 px" in d.message and d.loc.line == 8


def test_check_names_an_unreadable_matte_at_its_statement(folder):
    (folder / "mattes/cup.png").write_bytes(b"garbage")
    found = check_scene_file(folder / "scene.sigma")
    assert len(found) == 1 and "matte is not an image" in found[0].message and found[0].loc.line == 8


def test_a_mention_of_no_subject_in_the_instruction_is_located(folder):
    (folder / "scene.sigma").write_text(TEXT.replace("@cup shine", "@cpu shine"))
    with pytest.raises(sigmascene.SigmaError, match="`@cpu` in instruction names no subject"):
        parse_file(folder / "scene.sigma").validate_scene()


def test_safe_mode_refuses_a_matte_outside_the_folder(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "m.png"
    Image.new("L", (20, 10), 255).save(outside)
    (folder / "scene.sigma").write_text(TEXT.replace("mattes/cup.png", str(outside)))
    with pytest.raises(AssetError, match="matte .* is outside the allowed folder"):
        parse_file(folder / "scene.sigma", root=True)


def test_the_compiled_layout_uses_the_statements_matte(folder):
    from sigmascene.compiler.layout_image import layout_image

    layout = layout_image(sigmascene.compile(parse_file(folder / "scene.sigma")))
    assert layout.sources == {"cup": "matte"} and layout.warnings == []


def test_editor_edits_keep_the_matte_and_rename_reaches_the_instruction(folder):
    from sigmascene.editor.edits import TextEdit, rename, set_depth

    text = (folder / "scene.sigma").read_text()
    scene = parse_file(folder / "scene.sigma")
    ed = TextEdit(text, scene)
    set_depth(ed, scene.subjects[0], 2.5)
    rename(ed, scene.subjects[0], "mug")
    new = ed.result()
    again = parse_text(new, file=str(folder / "scene.sigma"), base_dir=folder)
    assert again.subjects[0].name == "mug" and again.subjects[0].matte == "mattes/cup.png"
    assert again.subjects[0].depth == 2.5 and again.instruction == "Make @mug shine on the table"
    assert 'matte "mattes/cup.png"  # white = the cup' in new


def test_preview_maps_shows_what_the_model_sees(folder):
    from sigmascene.compiler.layout_image import layout_image
    from sigmascene.compiler.preview import contact_sheet, model_view_panel

    compiled = sigmascene.compile(parse_file(folder / "scene.sigma"))
    panel, notes = model_view_panel(compiled, (128, 128))
    want = layout_image(compiled).pil.resize((128, 128), Image.NEAREST)
    assert np.array_equal(np.asarray(panel), np.asarray(want)) and notes == ["cup: matte"]
    sheet = np.asarray(contact_sheet(compiled))
    assert sheet.shape[0] > sheet.shape[1] * 0.6  # a third row holds the model's view
