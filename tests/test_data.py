"""Every data set's shapes and ranges, the folder loader on real files, npz, samplers."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import data
from gankit.config import DataConfig
from gankit.data.base import TensorData, to_uint8, to_unit_range
from gankit.data.builtin import grid25_centers, ring8_centers
from gankit.errors import GankitError


def test_mnist5k():
    ds = data.load(DataConfig(name="mnist5k"))
    assert ds.x.shape == (5000, 1, 28, 28) and ds.x.dtype == torch.uint8
    assert ds.y.shape == (5000,) and set(ds.y.tolist()) == set(range(10))
    x = to_unit_range(ds.x[:100])
    assert x.min() == -1 and x.max() == 1


def test_digits_and_conversion():
    ds = data.load(DataConfig(name="digits"))
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.max() == 255 and ds.num_classes == 10
    big = data.load(DataConfig(name="digits", resolution=16, channels=3))
    assert big.x.shape == (1797, 3, 16, 16) and torch.equal(big.x[:, 0], big.x[:, 2])


def test_digits_framed_puts_each_digit_in_mnists_box():
    ds, small = data.load(DataConfig(name="digits-framed")), data.load(DataConfig(name="digits"))
    assert ds.x.shape == (1797, 1, 28, 28) and ds.x.dtype == torch.uint8
    assert torch.equal(ds.y, small.y)
    border = torch.ones(28, 28, dtype=torch.bool)
    border[4:24, 4:24] = False
    assert ds.x[:, 0, border].max() == 0  # nothing outside the central 20x20 box
    box = torch.nn.functional.interpolate(ds.x[:, :, 4:24, 4:24].float(), size=(8, 8),
                                          mode="area")
    err = (box - small.x.float()).abs().mean()  # the box holds the 8x8 digit, resized:
    assert err < 25 and err < 0.5 * (box - small.x.float().roll(1, 0)).abs().mean()  # not another


def test_mixtures_match_pacgan():
    ring = ring8_centers()
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-7)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert grid25_centers().shape == (25, 2) and set(grid25_centers()[:, 0].tolist()) == {
        -4.0, -2.0, 0.0, 2.0, 4.0}
    ds = data.load(DataConfig(name="grid25"))
    x, k = ds.sample(20000, torch.Generator().manual_seed(0))
    resid = x - ds.centers[k]
    assert abs(resid.std().item() - 0.05) < 0.002
    counts = torch.bincount(k, minlength=25).float()
    assert counts.min() > 0.8 * 20000 / 25  # uniform over modes
    with pytest.raises(GankitError, match="do not apply"):
        data.load(DataConfig(name="ring8", resolution=32))


def _write(path, arr, fmt):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)


def test_folder_loader_real_files_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    _write(tmp_path / "cats" / "a.png", rng.integers(0, 255, (40, 50, 3), dtype=np.uint8), "PNG")
    _write(tmp_path / "cats" / "b.jpg", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), "JPEG")
    _write(tmp_path / "dogs" / "c.bmp", rng.integers(0, 255, (64, 32), dtype=np.uint8), "BMP")
    _write(tmp_path / "dogs" / "d.webp", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), "WEBP")
    ds = data.load(DataConfig(name=f"folder:{tmp_path}", resolution=16))
    assert ds.x.shape == (4, 3, 16, 16) and ds.x.dtype == torch.uint8  # grey converted to RGB
    assert ds.y.tolist() == [0, 0, 1, 1] and ds.num_classes == 2
    grey = data.load(DataConfig(name=f"folder:{tmp_path}", resolution=8, channels=1))
    assert grey.x.shape == (4, 1, 8, 8)
    auto = data.load(DataConfig(name=f"folder:{tmp_path}"))
    assert auto.x.shape[2:] == (32, 32)  # smallest short side: never upscale


def test_folder_centre_crop_keeps_the_middle(tmp_path):
    arr = np.zeros((20, 60), dtype=np.uint8)
    arr[:, 20:40] = 255  # white centre square
    _write(tmp_path / "x.png", arr, "PNG")
    ds = data.load(DataConfig(name=f"folder:{tmp_path}", resolution=20))
    assert ds.y is None and ds.x.shape == (1, 1, 20, 20)
    assert ds.x.float().mean() > 250


def test_folder_cache_is_keyed_by_content(tmp_path):
    img = tmp_path / "imgs" / "a.png"
    _write(img, np.full((8, 8), 10, dtype=np.uint8), "PNG")
    cfg = DataConfig(name=f"folder:{tmp_path / 'imgs'}", cache_dir=str(tmp_path / "c"))
    assert data.load(cfg).x.max() == 10
    assert len(list((tmp_path / "c" / "folders").glob("*.npz"))) == 1
    _write(img, np.full((8, 8), 200, dtype=np.uint8), "PNG")
    assert data.load(cfg).x.max() == 200  # edited file -> new cache entry


def test_corrupt_image_is_named_or_skipped(tmp_path):
    _write(tmp_path / "good.png", np.zeros((8, 8), dtype=np.uint8), "PNG")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(GankitError, match=r"cannot read image .*bad\.png.*skip_bad"):
        data.load(DataConfig(name=f"folder:{tmp_path}"))
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        ds = data.load(DataConfig(name=f"folder:{tmp_path}", skip_bad=True))
    assert len(ds) == 1


def test_truncated_jpeg_is_named(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:200])
    with pytest.raises(GankitError, match="cut.jpg"):
        data.load(DataConfig(name=f"folder:{tmp_path}"))


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        data.load(DataConfig(name=f"folder:{tmp_path / 'nope'}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="has no images"):
        data.load(DataConfig(name=f"folder:{tmp_path / 'empty'}"))


def test_npz_layouts_and_ranges(tmp_path):
    x = np.random.default_rng(0).random((6, 8, 8, 3)).astype(np.float32)  # NHWC in [0, 1]
    np.savez(tmp_path / "a.npz", x=x, y=np.arange(6))
    ds = data.load(DataConfig(name=f"npz:{tmp_path / 'a.npz'}"))
    assert ds.x.shape == (6, 3, 8, 8) and ds.num_classes == 6
    assert torch.equal(ds.x[0, 1], torch.from_numpy(np.rint(x[0, :, :, 1] * 255).astype(np.uint8)))
    np.savez(tmp_path / "b.npz", x=np.full((2, 1, 8, 8), -1.0))  # NCHW in [-1, 1]
    assert data.load(DataConfig(name=f"npz:{tmp_path / 'b.npz'}")).x.max() == 0
    np.savez(tmp_path / "p.npz", x=np.zeros((10, 2)))
    assert data.load(DataConfig(name=f"npz:{tmp_path / 'p.npz'}")).shape == (2,)
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 8, 8)))
    with pytest.raises(GankitError, match="no array 'x'"):
        data.load(DataConfig(name=f"npz:{tmp_path / 'bad.npz'}"))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(GankitError, match="cannot read npz"):
        data.load(DataConfig(name=f"npz:{tmp_path / 'junk.npz'}"))


def test_uint8_round_trip():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    assert torch.equal(to_uint8(to_unit_range(x)), x)


def indexed(n: int) -> TensorData:
    """Points whose value is their own index, so a batch shows which samples it holds."""
    return TensorData("ids", torch.arange(n, dtype=torch.float32)[:, None],
                      torch.arange(n) % 10, 10)


def epoch(s, batches: int) -> list[int]:
    ids = [s.next()[0][:, 0].long() for _ in range(batches)]
    return torch.cat(ids).tolist()


def test_sampler_epochs_are_permutations_and_resumable():
    ds = indexed(1797)
    s = data.make_sampler(ds, 100, seed=3)
    x, y = s.next()
    assert torch.equal(y, x[:, 0].long() % 10)  # labels travel with their samples
    first = x[:, 0].long().tolist() + epoch(s, 16)  # 17 * 100 <= 1797: one epoch
    second = epoch(s, 17)  # the last 97 are dropped, then a new epoch is shuffled
    for ids in (first, second):
        assert len(set(ids)) == len(ids) == 1700 and 0 <= min(ids) and max(ids) < 1797
    assert first != second and first != list(range(1700))
    state = s.state_dict()
    after = [s.next()[0] for _ in range(5)]
    s2 = data.make_sampler(ds, 100, seed=3)
    s2.load_state_dict(state)
    assert all(torch.equal(a, s2.next()[0]) for a in after)
    assert epoch(data.make_sampler(ds, 100, seed=4), 17) != first  # the seed matters


def test_distributed_shards_are_disjoint():
    ds = indexed(1797)
    a = data.make_sampler(ds, 10, seed=0, rank=0, world=2)
    b = data.make_sampler(ds, 10, seed=0, rank=1, world=2)
    ia, ib = epoch(a, 89), epoch(b, 89)  # 898 per rank (one of 1797 dropped): 89 batches
    assert len(set(ia)) == len(ia) == 890 == len(set(ib))
    assert not set(ia) & set(ib)
    assert len(set(a._order.tolist()) | set(b._order.tolist())) == 1796


def test_batch_larger_than_data():
    ds = data.load(DataConfig(name="digits"))
    with pytest.raises(GankitError, match="batch_size=5000"):
        data.make_sampler(ds, 5000, seed=0)
