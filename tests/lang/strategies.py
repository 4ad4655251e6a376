"""Hypothesis strategies that build arbitrary valid Scenes through the Python builder."""

from hypothesis import assume
from hypothesis import strategies as st

from sigmascene import Camera, Scene, box2d, box3d, mask, mesh, polygon
from sigmascene.scene import MAX_SUBJECTS

frac = st.floats(0, 1, allow_nan=False)
coord = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
angle = st.floats(-360, 360, allow_nan=False)
positive = st.floats(0.001, 20, allow_nan=False)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
plain_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="@"), max_size=30)


@st.composite
def box2ds(draw):
    x0, x1 = sorted(draw(st.lists(frac, min_size=2, max_size=2, unique=True)))
    y0, y1 = sorted(draw(st.lists(frac, min_size=2, max_size=2, unique=True)))
    return box2d(x0, y0, x1, y1)


@st.composite
def polygons(draw):
    pts = draw(st.lists(st.tuples(frac, frac), min_size=3, max_size=6))
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))
    assume(abs(area2) >= 1e-9)
    return polygon(*pts)


placements = st.one_of(
    box2ds(),
    st.builds(box3d, st.tuples(coord, coord, coord), st.tuples(positive, positive, positive), angle, angle, angle),
    st.builds(mask, any_text),
    polygons(),
    st.builds(lambda p, pos, s, y, pi, r: mesh(p, pos, s, y, pi, r), any_text, st.tuples(coord, coord, coord),
              positive, angle, angle, angle),
)


@st.composite
def scenes(draw, max_subjects: int = 6):
    n = draw(st.integers(1, min(max_subjects, MAX_SUBJECTS)))
    subject_names = draw(st.lists(names, min_size=n, max_size=n, unique=True))
    cam_pos = draw(st.tuples(coord, coord, coord))
    look = draw(st.none() | st.tuples(coord, coord, coord))
    assume(look is None or look != cam_pos)
    scene = Scene(
        canvas=(16 * draw(st.integers(1, 256)), 16 * draw(st.integers(1, 256))),
        seed=draw(st.integers(0, 2**32)),
        prompt=draw(plain_text),
        camera=Camera(position=cam_pos, look_at=look, fov=draw(st.floats(1, 179))),
    )
    ranks = draw(st.permutations(range(n)))  # relations always point from lower to higher rank: no cycles
    for i, name in enumerate(subject_names):
        behind, in_front = [], []
        for j in draw(st.sets(st.integers(0, i - 1), max_size=2)) if i else []:
            (behind if ranks[i] < ranks[j] else in_front).append(subject_names[j])
        scene.add_subject(name, draw(any_text), draw(placements),
                          depth=draw(st.none() | positive), depth_map=draw(st.none() | any_text),
                          behind=behind, in_front_of=in_front, caption=draw(st.none() | any_text))
    if draw(st.booleans()):
        mentioned = draw(st.lists(st.sampled_from(subject_names), max_size=3))
        scene.compose = "".join(draw(plain_text) + f" @{m} " for m in mentioned) + draw(plain_text)
    return scene
