"""The Ray engine: the same config and seeds give the same dataset as the one-machine build, byte for byte, and
`data synth --ray` renders the toy world on the same engine. A 2-CPU local cluster, as CI has."""

import pytest
from build_support import dataset_files, reference_build, tiny_models

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_build_equals_the_one_machine_build_byte_for_byte(local_ray, tmp_path_factory, tmp_path):
    from sigmascene.data.recipe import load_config, run_build

    models = tiny_models(tmp_path_factory)
    cfg, reference = reference_build(tmp_path_factory, models)
    report = run_build(load_config(cfg), tmp_path / "ray", count=6, ray="auto")
    assert report.engine.startswith("ray") and report.kept == 6
    assert all(c["processed"] == 6 for c in report.stage_counts.values())
    got, want = dataset_files(tmp_path / "ray"), dataset_files(reference)
    assert sorted(got) == sorted(want)
    assert [k for k in want if got[k] != want[k]] == []


@pytest.mark.slow
def test_synth_on_ray_writes_the_same_samples_as_worker_processes(local_ray, tmp_path):
    from sigmascene.data.synth import SynthConfig, synthesize

    cfg = SynthConfig(seed=3, size=48, min_subjects=1, max_subjects=3)
    synthesize(tmp_path / "ray", 3, cfg, ray="auto")
    synthesize(tmp_path / "local", 3, cfg, workers=1)
    assert (tmp_path / "ray" / "index.jsonl").read_text() == (tmp_path / "local" / "index.jsonl").read_text()
    assert dataset_files(tmp_path / "ray") == dataset_files(tmp_path / "local")
