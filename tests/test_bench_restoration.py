"""benchmarks/restoration.py's translation scoring: each domain's shipped classifier reads
its real digits, on the box the digit fills (digits-framed: MNIST's 20x20 of 28x28)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gankit import data as data_mod
from gankit.config import DataConfig
from gankit.metrics.lenet import load_classifier

_PATH = Path(__file__).parents[1] / "benchmarks" / "restoration.py"
_spec = importlib.util.spec_from_file_location("restoration_bench", _PATH)
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)


@pytest.mark.parametrize("name", ["mnist5k", "digits", "digits-framed"])
def test_each_domains_classifier_reads_its_real_digits_at_16px(name):
    ds = data_mod.load(DataConfig(name=name, resolution=16, limit=500))
    clf, size, box = rb.DIGIT_CLASSIFIERS[name]
    prob = rb.read_digits(load_classifier(clf), size, box, ds.x)
    assert (prob.argmax(1) == ds.y).float().mean() > 0.9


def test_framed_digits_read_on_the_whole_frame_are_misread():
    """The box matters: lenet-digits on the whole 28-px frame (digit shrunk to 5.7 px of 8)
    reads far fewer framed digits than on the digit's box."""
    ds = data_mod.load(DataConfig(name="digits-framed", resolution=16, limit=500))
    clf, size, box = rb.DIGIT_CLASSIFIERS["digits-framed"]
    model = load_classifier(clf)
    whole = (rb.read_digits(model, size, 1.0, ds.x).argmax(1) == ds.y).float().mean()
    boxed = (rb.read_digits(model, size, box, ds.x).argmax(1) == ds.y).float().mean()
    assert boxed - whole > 0.2


def test_every_translation_preset_has_a_classifier_for_both_domains():
    """eval_translate looks each domain's classifier up by data name: a preset naming a set
    without one would fail only after its 15-minute training."""
    from gankit import config

    presets = [p for p in config.preset_names() if config.build(p).model.family == "cyclegan"]
    assert presets == ["cyclegan-digits"]
    for name in presets:
        cfg = config.build(name)
        assert {cfg.data.name, cfg.data.name_b} <= set(rb.DIGIT_CLASSIFIERS)
