"""The shipped digit classifiers (accuracy, bit-for-bit reproduction) and the extractor API."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import lenet
from gankit.metrics.features import EXTRACTORS, Extractor, default_extractor, get_extractor


@pytest.mark.parametrize("name,floor", [("lenet-mnist", 0.97), ("lenet-digits", 0.97)])
def test_shipped_classifier_accuracy_and_hash(name, floor):
    model = lenet.load_classifier(name)
    assert lenet.state_sha256(model.state_dict()) == lenet.SHIPPED_SHA256[name]
    assert lenet.heldout_accuracy(name, model) >= floor


def test_fixed_split_is_disjoint_and_seeded():
    tr, ho = lenet.split(5000, 1000, seed=0)
    assert len(tr) == 4000 and len(ho) == 1000 and not set(tr.tolist()) & set(ho.tolist())
    tr2, _ = lenet.split(5000, 1000, seed=0)
    assert torch.equal(tr, tr2)


@pytest.mark.parametrize("name", ["lenet-digits", "lenet-mnist"])
def test_recipe_reproduces_the_shipped_weights_bit_for_bit(name):
    model, _ = lenet.train_classifier(name, log=False)
    assert lenet.state_sha256(model.state_dict()) == lenet.SHIPPED_SHA256[name]


def test_extractor_outputs():
    ex = get_extractor("lenet-mnist")
    feats, logits = ex(torch.rand(5, 1, 28, 28) * 2 - 1)
    assert feats.shape == (5, 64) and logits.shape == (5, 10) and feats.dtype == torch.float32
    feats, _ = ex(torch.rand(2, 3, 32, 32) * 2 - 1)  # RGB, other size: converted
    assert feats.shape == (2, 64)
    ex = get_extractor("lenet-digits")
    assert ex(torch.zeros(3, 1, 8, 8))[0].shape == (3, 128)
    pts, none = get_extractor("raw")(torch.randn(4, 2))
    assert pts.shape == (4, 2) and none is None


def test_custom_module_plugs_in():
    lin = torch.nn.Linear(4, 3)
    ex = Extractor.from_module(lin)
    f, logits = ex(torch.randn(2, 4))
    assert f.shape == (2, 3) and logits is None

    class Pair(torch.nn.Module):
        def forward(self, x):
            return x * 2, x.sum(1, keepdim=True)

    f, logits = Extractor.from_module(Pair())(torch.ones(2, 4))
    assert torch.equal(f, torch.full((2, 4), 2.0)) and logits.shape == (2, 1)


def test_registry_and_defaults():
    assert set(EXTRACTORS.names()) == {"inception", "lenet-digits", "lenet-mnist", "raw"}
    assert default_extractor("mnist5k") == "lenet-mnist"
    assert default_extractor("grid25") == "raw"
    assert default_extractor("folder:x") == "inception"
    with pytest.raises(GankitError, match="unknown feature extractor"):
        get_extractor("vgg")
    with pytest.raises(GankitError, match="GANKIT_INCEPTION_WEIGHTS"):
        get_extractor("inception", inception_weights=None)
