"""`data synth`, `data import-spar` and `data import-scannet` killed (SIGKILL) at fixed points, each chain
named by its points, then at a seeded sample of the points where the uninterrupted run wrote a file: every
re-run finishes with the uninterrupted run's bytes. synth runs as a real process (`python
tests/faults/_killer.py`), the imports as forks (harness.py); import-spar with chunks of 4 records, so that
finished chunks are kept and unfinished ones redone."""

import functools

import pytest

from tests.data.importers.test_import_spar import _records
from tests.data.real_layouts import render_frames, write_scannet_scene, write_spar_jsonl, write_spar_scene
from tests.faults.harness import RUN, Faulty, chain_id, points, sweep_id

SYNTH_CHAINS = [
    points(
        "close:*/..write-test.tmp*:1",  # the writability probe half written: the folder is no longer empty
        "rename:*/dataset.json:1",  # the first dataset.json never landed
        "close:*/scenes/scene00000.partial/view*.png:1",  # a scene's image half written
        "close:*/scenes/scene00001.partial/samples.jsonl:1",
        "rename:*/scenes/scene00002:1",  # a whole scene, not committed
        "close:*/.val.jsonl.tmp*:1",  # a manifest half written
        "rename:*/test.jsonl:1",
        "rename:*/dataset.json:1",  # everything but the complete dataset.json
    ),
]
SPAR_CHAINS = [
    points(
        "close:*/.dataset.json.tmp*:1",
        "close:*/frames/scannet/*/.*.png.tmp*:3",  # a frame half written
        "rename:*/.import/chunks/0000001.jsonl:1",  # chunk 1 done, its shard not committed
        "close:*/.import/chunks/.0000002.jsonl.tmp*:1",  # a shard half written
        "close:*/.train.jsonl.tmp*:1",
        "rename:*/import_report.json:1",
        "rename:*/dataset.json:1",
    ),
]
SCANNET_CHAINS = [
    points(
        "rename:*/.write-test:1",
        "close:*/overlaps/*/.*.npy.tmp*:2",  # an overlap matrix half written
        "rename:*/.import/chunks/0000001.jsonl:1",
        "rename:*/val.jsonl:1",  # train.jsonl replaced, val and test not
        "close:*/.import_report.json.tmp*:1",
        "rename:*/dataset.json:1",
    ),
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    job = Faulty("data synth", ["data", "synth", "--out", RUN, "--scenes", "3", "--size", "48", "--samples-per-scene",
                                "2", "--views", "2-3", "--split", "0.4,0.3,0.3", "--workers", "1"],
                 tmp_path_factory.mktemp("faults-synth"), spawn=True)
    job.make_reference()
    return job


def _chunks_of_four():
    from hatchvl.data.importers import spar

    spar.import_spar = functools.partial(spar.import_spar, chunk_size=4)


@pytest.fixture(scope="module")
def spar(tmp_path_factory, warm_imports):
    root = tmp_path_factory.mktemp("faults-spar-src") / "spar"
    write_spar_scene(root, "scannet", "scene0000_00", render_frames(1, 8))
    write_spar_scene(root, "scannet", "scene0001_00", render_frames(2, 6), inf_pose=("30",), no_depth=("50",))
    for (split, task, fmt), records in _records().items():
        write_spar_jsonl(root, "scannet", split, task, fmt, records)
    job = Faulty("data import-spar", ["data", "import-spar", "--root", str(root), "--out", RUN, "--sources", "scannet"],
                 tmp_path_factory.mktemp("faults-spar"), setup=_chunks_of_four)
    job.make_reference()
    return job


@pytest.fixture(scope="module")
def scannet(tmp_path_factory, warm_imports):
    root = tmp_path_factory.mktemp("faults-scannet-src")
    write_scannet_scene(root, "scene0000_00", render_frames(1, 8), inf_pose=("30",))
    write_scannet_scene(root, "scene0001_00", render_frames(2, 8), no_depth=("10",))
    write_scannet_scene(root, "scene0002_00", render_frames(3, 8))
    job = Faulty("data import-scannet", ["data", "import-scannet", "--root", str(root), "--out", RUN,
                                         "--pairs-per-scene", "2", "--pool", "8", "--workers", "1"],
                 tmp_path_factory.mktemp("faults-scannet"))
    job.make_reference()
    return job


@pytest.mark.parametrize("chain", SYNTH_CHAINS, ids=chain_id)
def test_synth_killed_at_fixed_points(synth, chain):
    synth.check_chain(chain)
    assert not list(synth.run.glob("scenes/*.partial"))


@pytest.mark.parametrize("chain", SPAR_CHAINS, ids=chain_id)
def test_import_spar_killed_at_fixed_points(spar, chain):
    spar.check_chain(chain)
    assert len(list(spar.run.glob(".import/chunks/*.jsonl"))) == 3  # 10 records in chunks of 4


@pytest.mark.parametrize("chain", SCANNET_CHAINS, ids=chain_id)
def test_import_scannet_killed_at_fixed_points(scannet, chain):
    scannet.check_chain(chain)


@pytest.mark.parametrize("job", ["synth", "spar", "scannet"], ids=sweep_id)
def test_data_killed_at_seeded_points_of_its_own_writes(job, request):
    faulty = request.getfixturevalue(job)
    assert faulty.check_sweep()
