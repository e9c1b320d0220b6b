"""FID Inception-v3: reference key names/shapes, forward shapes, FID pooling, loading, and
parity with torch-fidelity's extractor (the TF-exact input protocol, unbiased logits)."""

import fidelity_ref
import pytest
import torch
import torch.nn.functional as F

from gankit.data.base import to_uint8, to_unit_range
from gankit.errors import GankitError
from gankit.metrics.features import get_extractor
from gankit.metrics.inception import (
    ENV_VAR,
    WEIGHTS_FILE_NAME,
    FIDInceptionV3,
    expected_state_shapes,
    load_inception,
    resize_bilinear_tf1,
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


# ---------------------------------------------------------------- torch-fidelity parity


def _random_weights(seed: int) -> FIDInceptionV3:
    """Random weights in the FID file's layout, scaled so that activations stay O(1) through all
    94 layers (PyTorch's default init shrinks pool3 features to ~1e-7, too small to compare)."""
    g = torch.Generator().manual_seed(seed)
    model = FIDInceptionV3().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.normal_(0, (2 / m.weight[0].numel()) ** 0.5, generator=g)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
        model.fc.weight.normal_(0, 2048 ** -0.5, generator=g)
        model.fc.bias.uniform_(-1, 1, generator=g)
    return model


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    """gankit's inception extractor (default settings), torch-fidelity's
    FeatureExtractorInceptionV3 on the same random weights, and their fc (weight, bias)."""
    mod = fidelity_ref.load("feature_extractor_inceptionv3")
    if mod is None:
        pytest.skip("torch-fidelity is not installed (make install adds it with --no-deps)")
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    model = _random_weights(0)
    torch.save(_file_state(model), path)
    theirs = mod.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased", "logits"],
        feature_extractor_weights_path=str(path))
    fc = (model.fc.weight.detach(), model.fc.bias.detach())
    return get_extractor("inception", inception_weights=str(path)), theirs, fc


def _uint8(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randint(0, 256, shape, dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


# 299 px: no resize; 32 and 64 px: TF1 resize. gankit's float images are quantised as saved PNGs
# are, so torch-fidelity is fed to_uint8 of them; a grey image is repeated to RGB.
@pytest.mark.parametrize("case", ["uint8-rgb-299", "float-rgb-32", "uint8-grey-64"])
def test_tf_protocol_matches_torch_fidelity(parity, case):
    ours, theirs, fc = parity
    kind, colour, size = case.split("-")
    shape = (2, 3 if colour == "rgb" else 1, int(size), int(size))
    if kind == "uint8":
        x = to_unit_range(_uint8(shape, seed=int(size)))
    else:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        want_feats, want_unbiased, want_logits = theirs(to_uint8(x).expand(-1, 3, -1, -1))
    feats, logits = ours(x)  # the default protocol must be torch-fidelity's
    assert ours.protocol == "tf" and feats.abs().mean() > 0.1  # not near-zero numbers
    torch.testing.assert_close(feats, want_feats, rtol=1e-5, atol=1e-6)
    # the extractor's class logits are the unbiased ones (what the Inception Score uses)
    torch.testing.assert_close(logits, want_unbiased, rtol=1e-5, atol=1e-5)
    weight, bias = fc
    torch.testing.assert_close(feats @ weight.T + bias, want_logits, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(logits, want_logits, rtol=1e-3, atol=1e-3)
def test_tf_preprocessing_matches_torch_fidelity_resize():
    resize = fidelity_ref.load("interpolate_compat_tensorflow")
    if resize is None:
        pytest.skip("torch-fidelity is not installed (make install adds it with --no-deps)")
    tf1 = resize.interpolate_bilinear_2d_like_tensorflow1x
    for size in [(32, 32), (64, 48), (300, 301), (299, 299)]:
        x = _uint8((2, 3, *size), seed=size[0]).float()
        want = tf1(x, size=(299, 299), align_corners=False)
        assert torch.equal(resize_bilinear_tf1(x, (299, 299)), want), size
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    got = FIDInceptionV3("tf").preprocess(x)
    want = (tf1(to_uint8(x).float(), size=(299, 299), align_corners=False) - 128) / 128
    assert torch.equal(got, want)
    assert -1.0 <= got.min() and got.max() <= 127 / 128


def test_pytorch_fid_protocol_is_kept_as_an_option():
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(4)) * 2 - 1
    got = FIDInceptionV3("pytorch-fid").preprocess(x)
    want = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    assert torch.equal(got, want.expand(-1, 3, -1, -1))
    assert not torch.allclose(FIDInceptionV3("tf").preprocess(x), got, atol=1e-3)
    with pytest.raises(GankitError, match="tf, pytorch-fid"):
        FIDInceptionV3("tensorflow")
