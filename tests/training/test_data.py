import json

import numpy as np
import pytest
from PIL import Image

from trainer.data import Augment, UnpairedSampler, collect_images
from vidswap.errors import InputError


def test_extract_dataset_records_and_plain_folders(tmp_path, tiny_domains):
    ds = tmp_path / "ds"
    (ds / "crops").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(ds / "crops" / f"{i}.png")
    (ds / "records.jsonl").write_text(
        "".join(json.dumps({"crop": f"crops/{i}.png", "frame": i}) + "\n" for i in range(3))
    )
    (ds / "crops" / "stray.png").write_bytes((ds / "crops" / "0.png").read_bytes())  # not in records: ignored
    assert collect_images([str(ds)]) == [ds / "crops" / f"{i}.png" for i in range(3)]
    assert len(collect_images([str(tiny_domains[0]), str(ds)])) == 7


def test_bad_sources_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        collect_images([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no training images"):
        collect_images([str(tmp_path / "empty")])
    (tmp_path / "vids").mkdir()
    (tmp_path / "vids" / "clip.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="vidswap extract"):
        collect_images([str(tmp_path / "vids")])


def test_batches_are_a_pure_function_of_the_step(tiny_domains):
    a, b = (collect_images([str(d)]) for d in tiny_domains)
    sampler = UnpairedSampler(a, b, Augment(size=16, load_size=20, flip=True), batch_size=3, seed=7)
    x = sampler.batch(5)
    assert x["A"].shape == (3, 3, 16, 16) and x["A"].min() >= -1 and x["A"].max() <= 1
    prefetched = dict(sampler.batches(3, 6, threads=2))
    assert sorted(prefetched) == [4, 5, 6]
    assert all((prefetched[5][k] == x[k]).all() for k in "AB")
    assert not (sampler.batch(6)["A"] == x["A"]).all()
