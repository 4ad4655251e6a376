"""The editor's route fuzz in CI: 1,000 hypothesis cases (derandomized) over every route — bodies of every JSON
shape, NaN/Infinity, huge numbers, unicode, deep nesting, raw bytes, odd paths and Content-Lengths — and no
answer is ever a 5xx. `benchmarks/fuzz.py --editor` runs 20,000+ with the same generator."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from sigmascene.editor import create_app, render_job
from sigmascene.testing.editor_fuzz import cases, run_case
from editor_support import copy_living_room

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "scene"
    copy_living_room(folder)
    (folder / "afile").write_text("a file where a folder might be asked for")
    app = create_app(folder / "living_room.sigma", TOKEN, extra_hosts={"testserver"})
    st = app.app.state.editor
    original = st.doc.text

    def reset():
        if st.doc.text != original:
            st.doc.set_text(original)

    client = TestClient(app, headers={"X-Sigmascene-Token": TOKEN}, raise_server_exceptions=True)
    # a valid render body must not start a real render on every case: hold the render lock, so it answers 409
    # after its body was read and checked (which is what is fuzzed here); renders themselves are tested elsewhere
    render_job.RENDER_LOCK.acquire()
    try:
        yield client, reset
    finally:
        render_job.RENDER_LOCK.release()


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_every_route_answers_every_body_without_a_5xx(editor, case):
    client, reset = editor
    out = run_case(client, case, reset)
    assert out.status < 500, f"{case} answered {out.status}"


def test_the_fuzz_reaches_every_route_and_gets_past_validation(editor):
    """The generator is not only making bodies every route refuses at the door: some edits get through the
    schema into the handler, and a subject's placement really changes."""
    from hypothesis import Phase, find

    from sigmascene.testing.editor_fuzz import ROUTES

    client, reset = editor
    quick = settings(max_examples=3000, database=None, derandomize=True, deadline=None, phases=[Phase.generate],
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

    def edits_a_subject(c) -> bool:
        if c.method != "PATCH" or not c.path.startswith("/api/subjects/"):
            return False
        reset()
        before = client.get("/api/status").json()["revision"]
        return run_case(client, c, lambda: None).status == 200 and client.get("/api/status").json()["revision"] > before

    assert find(cases(), edits_a_subject, settings=quick).body
    reset()
    assert len({(m, p) for m, p, _ in ROUTES}) == 18
