"""FID Inception-v3: reference key names/shapes, forward shapes, FID pooling, loading."""

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.metrics.inception import (
    ENV_VAR,
    WEIGHTS_FILE_NAME,
    FIDInceptionV3,
    expected_state_shapes,
    load_inception,
)

# Read off pytorch-fid's fid_inception_v3() and torchvision's Inception3 / Basic blocks.
REFERENCE_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "Mixed_7c.branch_pool.bn.bias": (192,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
# torchvision's Inception3 has 27,161,264 parameters; minus AuxLogits (3,326,696) and
# plus 8 extra classes in fc (8 * 2048 + 8 = 16,392) gives the FID network's count.
N_PARAMS = 23_850_960
N_PARAM_TENSORS = 94 * 3 + 2  # 94 BasicConv2d (conv.weight, bn.weight, bn.bias) + fc
N_STATE_KEYS = 94 * 5 + 2  # plus bn.running_mean, bn.running_var; counters excluded


@pytest.fixture(scope="module")
def model() -> FIDInceptionV3:
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


def _file_state(model: FIDInceptionV3) -> dict[str, torch.Tensor]:
    """A state dict like the real weights file: no BatchNorm counters."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def test_keys_and_shapes_match_reference(model):
    shapes = expected_state_shapes()
    for key, shape in REFERENCE_SHAPES.items():
        assert shapes[key] == shape, key
    assert len(shapes) == N_STATE_KEYS
    assert not any(k.endswith("num_batches_tracked") or "AuxLogits" in k for k in shapes)
    params = list(model.parameters())
    assert len(params) == N_PARAM_TENSORS
    assert sum(p.numel() for p in params) == N_PARAMS


def test_forward_shapes_and_logits(model):
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        feats, logits = model(x)
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    assert feats.dtype == logits.dtype == torch.float32
    assert (feats >= 0).all()  # mean of ReLU outputs
    torch.testing.assert_close(logits, feats @ model.fc.weight.T + model.fc.bias)


def test_fid_pooling_variants(model):
    # A constant input stays constant through a pool that ignores padding, so Mixed_5b's pool
    # branch (its last 32 channels) is spatially uniform; counting the zero padding would not be.
    with torch.no_grad():
        out = model.Mixed_5b(torch.full((1, 192, 5, 5), 2.0))[:, -32:]
    torch.testing.assert_close(out, out[:, :, :1, :1].expand_as(out))
    # Mixed_7c's pool branch (last 192 channels) is a 3x3/stride-1 max pool, then the 1x1 conv.
    x = torch.randn(1, 2048, 3, 3)
    with torch.no_grad():
        got = model.Mixed_7c(x)[:, -192:]
        want = model.Mixed_7c.branch_pool(F.max_pool2d(x, 3, stride=1, padding=1))
    torch.testing.assert_close(got, want)


def test_load_round_trip(model, tmp_path):
    path = tmp_path / WEIGHTS_FILE_NAME
    torch.save(_file_state(model), path)
    loaded = load_inception(str(path))
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(loaded.state_dict()[key], value), key


def test_load_from_env_var(model, tmp_path, monkeypatch):
    path = tmp_path / "weights.pth"
    torch.save(_file_state(model), path)
    monkeypatch.setenv(ENV_VAR, str(path))
    assert isinstance(load_inception(), FIDInceptionV3)


def test_missing_file_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(GankitError, match=ENV_VAR) as info:
        load_inception()
    msg = str(info.value)
    assert "\n" not in msg
    assert WEIGHTS_FILE_NAME in msg and "eval.inception_weights" in msg and "lenet-mnist" in msg
    with pytest.raises(GankitError, match="does not exist"):
        load_inception(str(tmp_path / "nope.pth"))


def test_bad_files_error(model, tmp_path):
    state = _file_state(model)
    state["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(GankitError, match=r"fc\.weight.*\(1000, 2048\)"):
        load_inception(str(tmp_path / "shape.pth"))
    state = _file_state(model)
    del state["Mixed_6a.branch3x3.conv.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(GankitError, match="missing key 'Mixed_6a.branch3x3.conv.weight'"):
        load_inception(str(tmp_path / "missing.pth"))
    state = _file_state(model)
    state["AuxLogits.fc.weight"] = torch.zeros(1008, 768)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(GankitError, match="unexpected key 'AuxLogits.fc.weight'"):
        load_inception(str(tmp_path / "extra.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(GankitError, match="junk.pth"):
        load_inception(str(tmp_path / "junk.pth"))


def test_bad_input_shape(model):
    with pytest.raises(GankitError, match="Inception expects"):
        model(torch.zeros(2, 2, 28, 28))
