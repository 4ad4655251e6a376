"""The editor's route fuzz: every HTTP route with hypothesis-made bodies, and the one promise checked — no 5xx.

Bodies are JSON of every shape (wrong types, nesting, NaN/Infinity, 400-digit integers, unicode, lone
surrogates), objects carrying the fields the routes read (so a case gets past "not an object" into the
handler), and raw bytes that are not JSON at all. Paths name the scene's subjects and random names; the file
routes get `..`, long and odd names. The CI test (tests/editor/test_editor_fuzz.py) and `benchmarks/fuzz.py
--editor` share this module. It never imports the editor (testing sits below it): the caller passes an HTTP
client for the app and a `reset` that puts the scene back, so every case starts from the same valid scene.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

from hypothesis import strategies as st

from ..scene import KINDS

# (method, path template, what the body is): {name} a subject, {job} a render job, {file} a file path
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/api/scene", "none"), ("PUT", "/api/scene", "json"), ("PATCH", "/api/scene", "json"),
    ("PATCH", "/api/subjects/{name}", "json"), ("POST", "/api/subjects/{name}/reorder", "json"),
    ("POST", "/api/undo", "json"), ("POST", "/api/redo", "json"), ("POST", "/api/end-step", "json"),
    ("POST", "/api/save", "json"), ("POST", "/api/reload", "json"), ("GET", "/api/status", "none"),
    ("GET", "/api/maps", "none"), ("GET", "/api/maps/{map}.png", "query"), ("GET", "/api/files/{file}", "none"),
    ("POST", "/api/files", "upload"), ("POST", "/api/render", "json"), ("POST", "/api/render/{job}/cancel", "json"),
    ("GET", "/api/render/{job}/image.png", "none"),
]
FIELDS = ["source", "coalesce", "camera", "canvas", "prompt", "compose", "params", "position", "look_at", "fov",
          "width", "height", "kind", "bbox", "mask_transform", "placement", "depth", "caption", "ref", "name",
          "x0", "y0", "x1", "y1", "points", "center", "size", "yaw", "pitch", "roll", "scale", "path", "dx", "dy",
          "origin", "index", "force", "steps", "seed", "device"]
SUBJECTS = ["corgi", "armchair", "lamp", "plant", "vase", "rug", "nobody", "", "é", "a/b", "..", "x" * 300]
MAPS = ["layout", "ir_asc", "ir_desc", "i_t", "i_s", "control", "nope", "..%2F"]
FILES = ["refs/corgi.png", "refs/../../secret.png", "..%2Fsecret.png", "/etc/passwd", "masks/lamp.png",
         "living_room.sigma", "a" * 300 + ".png", "refs/%00.png", "afile/x.png", "refs", "é.png", "meshes/vase.obj"]
PLAUSIBLE = st.one_of(st.floats(-2, 2), st.integers(-5, 5000), st.sampled_from([*KINDS, "px", "$x"]))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**18, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6), st.text(max_size=40),
    st.sampled_from(["NaN", "Infinity", "-1e999", "1e309", "\ud800", "\x00", "abc", "0.5", "refs/corgi.png"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner,
                                                  max_size=6)), max_leaves=30)
field_values = st.one_of(json_values, PLAUSIBLE, st.lists(PLAUSIBLE, min_size=2, max_size=4),
                         st.lists(st.lists(PLAUSIBLE, min_size=2, max_size=2), max_size=6),
                         st.dictionaries(st.sampled_from(FIELDS), st.one_of(PLAUSIBLE, json_values), max_size=5))
shaped = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=5)
_unit = st.floats(0, 1)
_vec = st.tuples(st.floats(-4, 4), st.floats(-1, 3), st.floats(-8, 2))
# bodies a page could send: they pass the schema, so the edit code itself (spans, units, params) is fuzzed
edits = st.one_of(
    st.fixed_dictionaries({"placement": st.fixed_dictionaries(
        {}, optional={"x0": _unit, "y0": _unit, "x1": _unit, "y1": _unit,
                      "points": st.lists(st.tuples(_unit, _unit), min_size=3, max_size=6)})}),
    st.fixed_dictionaries({"placement": st.fixed_dictionaries(
        {}, optional={"center": _vec, "position": _vec, "size": st.tuples(*[st.floats(0.01, 5)] * 3),
                      "yaw": st.floats(-400, 400), "pitch": st.floats(-90, 90), "scale": st.floats(0.01, 10)})}),
    st.fixed_dictionaries({"depth": st.none() | st.floats(0.01, 100)}),
    st.fixed_dictionaries({"caption": st.text(max_size=20)}),
    st.fixed_dictionaries({"name": st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)}),
    st.fixed_dictionaries({"mask_transform": st.fixed_dictionaries(
        {"dx": st.floats(-0.3, 0.3), "dy": st.floats(-0.3, 0.3), "scale": st.floats(0.5, 2)},
        optional={"origin": st.tuples(_unit, _unit)})}),
    st.fixed_dictionaries({"kind": st.sampled_from(list(KINDS)),
                           "bbox": st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0.5, 1),
                                             st.floats(0.5, 1))}),
    st.fixed_dictionaries({}, optional={"canvas": st.fixed_dictionaries({"width": st.integers(16, 4096)}),
                                        "camera": st.fixed_dictionaries({"fov": st.floats(5, 150)}),
                                        "prompt": st.text(max_size=30), "index": st.integers(-2, 8)}),
).map(lambda d: {**d, "coalesce": "fuzz"} if d else d)
raw_bodies = st.one_of(
    st.binary(max_size=200), st.sampled_from([b"", b"[" * 100_000, b'{"a":' * 20_000, b"{" + b" " * 1000,
                                              b'{"source": "\\ud800"}', b"\xff\xfe{}", b"null", b"[1]", b'"x"',
                                              b'{"index": NaN}', b'{"canvas": {"width": Infinity}}']),
    st.integers(1, 60).map(lambda n: b"[" * n + b"]" * n))


@dataclass
class Case:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]

    def __str__(self) -> str:
        shown = self.body if self.body is None or len(self.body) < 300 else self.body[:300] + b"..."
        return f"{self.method} {self.path} {shown!r}"


def _dump(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN/Infinity spelt out, lone surrogates passed through."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def cases(draw: Callable) -> Case:
    method, template, kind = draw(st.sampled_from(ROUTES))
    path = template.format(name=quote(draw(st.sampled_from(SUBJECTS[:5]) | st.sampled_from(SUBJECTS) |
                                           st.text(max_size=12)), safe=""),
                           job=quote(draw(st.sampled_from(["nojob", "", "x" * 100]) | st.text(max_size=6)), safe=""),
                           map=draw(st.sampled_from(MAPS)), file=draw(st.sampled_from(FILES)))
    headers = {}
    body: bytes | None = None
    if kind == "json":
        body = draw(st.one_of(edits.map(_dump), shaped.map(_dump), json_values.map(_dump), raw_bodies))
        headers["Content-Type"] = "application/json"
    elif kind == "upload":
        name = draw(st.sampled_from(FILES) | st.text(max_size=20))
        path += "?name=" + quote(name, safe="")
        body = draw(st.one_of(st.binary(max_size=300), st.just(b"\x89PNG\r\n\x1a\n" + bytes(64))))
    elif kind == "query":
        path += "?size=" + quote(draw(st.sampled_from(["1", "0", "-5", "1e9", "99999999", "abc", "", "٣"])
                                      | st.text(max_size=6)), safe="")
    if draw(st.integers(0, 19)) == 0:
        headers["Content-Length"] = draw(st.sampled_from(["abc", "-1", "99999999999", "0", " 5"]))
    return Case(method, path, body, headers)


@dataclass
class Outcome:
    status: int
    case: Case


def run_case(client: Any, case: Case, reset: Callable[[], None]) -> Outcome:
    """Send one case through `client` (Starlette's TestClient, say) after `reset`; the status it answered."""
    reset()
    try:
        r = client.request(case.method, case.path, content=case.body, headers=case.headers)
    except Exception as err:  # the app raising out of the client is a 500 the browser would see
        raise AssertionError(f"{case}: the app raised {type(err).__name__}: {err}") from err
    return Outcome(r.status_code, case)
