"""The shared latent layout: shapes, seeded bit-identity with PRIORS, codes, truncation."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.nets import PRIORS
from gankit.nets.latent import Latent


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_dim_and_shapes():
    lat = Latent(noise=8, prior="uniform", cat=(10, 3), cont=2)
    assert lat.dim == 8 + 13 + 2 and lat.n_codes == 4
    z, cat, cont = lat.sample_with_codes(5, gen())
    assert z.shape == (5, 23) and z.dtype == torch.float32
    assert cat.shape == (5, 2) and cat.dtype == torch.long
    assert cont.shape == (5, 2) and cont.dtype == torch.float32
    assert lat.sample(0, gen()).shape == (0, 23)
    z, cat, cont = Latent(4).sample_with_codes(3, gen())
    assert z.shape == (3, 4) and cat.shape == (3, 0) and cont.shape == (3, 0)
    assert Latent(4, cat=[10]).cat == (10,)  # a list from YAML becomes a hashable tuple


@pytest.mark.parametrize("prior,expr", [
    ("normal", lambda n, d, g: torch.randn(n, d, generator=g)),
    ("uniform", lambda n, d, g: torch.rand(n, d, generator=g).mul_(2).sub_(1)),
])
def test_no_codes_is_bit_identical_to_the_priors(prior, expr):
    g1, g2, g3 = gen(123), gen(123), gen(123)
    z = Latent(noise=16, prior=prior).sample(7, g1)
    assert torch.equal(z, expr(7, 16, g2))
    assert torch.equal(z, PRIORS.get(prior)(7, 16, g3))
    # the generator advanced exactly as much: same state, and the next draws agree too
    assert torch.equal(g1.get_state(), g3.get_state())
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_draw_order_noise_then_cat_then_cont():
    lat = Latent(noise=6, cat=(4, 3), cont=2)
    z, cat, cont = lat.sample_with_codes(9, gen(5))
    g = gen(5)
    noise = torch.randn(9, 6, generator=g)
    c0 = torch.randint(4, (9,), generator=g)
    c1 = torch.randint(3, (9,), generator=g)
    want_cont = torch.rand(9, 2, generator=g).mul_(2).sub_(1)
    assert torch.equal(z[:, :6], noise)
    assert torch.equal(cat, torch.stack([c0, c1], 1)) and torch.equal(cont, want_cont)
    assert torch.equal(z[:, -2:], want_cont)


def test_one_hot_blocks_are_valid_and_match_the_codes():
    lat = Latent(noise=3, cat=(5, 2, 7), cont=1)
    z, cat, cont = lat.sample_with_codes(50, gen(1))
    noise, blocks, zc = lat.split(z)
    assert noise.shape == (50, 3) and [b.shape[1] for b in blocks] == [5, 2, 7]
    for i, b in enumerate(blocks):
        assert set(b.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(b.sum(1), torch.ones(50))
        assert torch.equal(b.argmax(1), cat[:, i])
    assert torch.equal(zc, cont) and cont.abs().max() <= 1


def test_code_frequencies_are_roughly_uniform():
    lat = Latent(noise=1, cat=(10, 3), cont=1)
    _, cat, cont = lat.sample_with_codes(20_000, gen(2))
    for i, k in enumerate(lat.cat):
        freq = torch.bincount(cat[:, i], minlength=k).float() / 20_000
        assert freq.shape == (k,)
        assert ((freq - 1 / k).abs() <= 0.02).all(), freq  # std ~0.002-0.003 per value
    assert abs(float(cont.mean())) <= 0.02 and abs(float(cont.var()) - 1 / 3) <= 0.02


@pytest.mark.parametrize("prior", ["normal", "uniform"])
def test_psi_truncation_scales_the_noise_only(prior):
    lat = Latent(noise=5, prior=prior, cat=(4,), cont=2)
    z = lat.sample(30, gen(3))
    zt = lat.sample(30, gen(3), truncation=0.5)
    assert torch.allclose(zt[:, :5], 0.5 * z[:, :5], rtol=0, atol=0)
    assert torch.equal(zt[:, 5:], z[:, 5:])  # codes untouched, same draws
    assert torch.equal(lat.sample(30, gen(3), truncation=1.0), z)


def test_resample_truncation_bounds_the_noise():
    lat = Latent(noise=64, cat=(3,), cont=1)
    z, cat, cont = lat.sample_with_codes(200, gen(4), truncation=0.5, mode="resample")
    assert z[:, :64].abs().max() <= 0.5
    assert z[:, :64].abs().max() > 0.45  # values fill the interval, not just shrink
    assert cat.shape == (200, 1) and cont.abs().max() <= 1
    loose = lat.sample(200, gen(4), truncation=100.0, mode="resample")
    assert torch.equal(loose, lat.sample(200, gen(4)))  # nothing to redraw: same stream


@pytest.mark.parametrize("kwargs,match", [
    ({"truncation": 0.0}, "psi must be in \\(0, 1\\]; got 0.0"),
    ({"truncation": 1.5}, "psi must be in \\(0, 1\\]"),
    ({"truncation": -0.2, "mode": "resample"}, "threshold must be > 0"),
    ({"truncation": 1.0, "mode": "clip"}, "unknown truncation mode 'clip'; choose one of: psi"),
])
def test_truncation_bad_input(kwargs, match):
    with pytest.raises(GankitError, match=match):
        Latent(noise=4).sample(2, gen(), **kwargs)


def test_resample_needs_the_normal_prior():
    with pytest.raises(GankitError, match="needs the normal prior, not 'uniform'"):
        Latent(noise=4, prior="uniform").sample(2, gen(), truncation=1.0, mode="resample")


def test_with_codes_sets_one_hot_and_continuous_values():
    lat = Latent(noise=2, cat=(3, 4), cont=2)
    z = lat.sample(6, gen(6))
    out = lat.with_codes(z, cat={1: 2}, cont={0: 1.5})
    noise, blocks, cont = lat.split(out)
    assert torch.equal(noise, z[:, :2]) and torch.equal(blocks[0], z[:, 2:5])
    assert torch.equal(blocks[1], torch.tensor([0.0, 0.0, 1.0, 0.0]).expand(6, 4))
    assert torch.equal(cont[:, 0], torch.full((6,), 1.5)) and torch.equal(cont[:, 1], z[:, -1])
    assert not torch.equal(out, z) and z.data_ptr() != out.data_ptr()
    assert torch.equal(lat.with_codes(z), z)


@pytest.mark.parametrize("cat,cont,match", [
    ({2: 0}, None, "no categorical code 2: this latent has 2 \\(c0..c1\\)"),
    ({1: 4}, None, "code c1 takes values 0..3; got 4"),
    ({0: -1}, None, "code c0 takes values 0..2; got -1"),
    (None, {1: 0.0}, "no continuous code 1: this latent has 1 \\(c2\\)"),
    (None, {0: float("nan")}, "code c2 must be a finite number"),
])
def test_with_codes_bad_input(cat, cont, match):
    lat = Latent(noise=2, cat=(3, 4), cont=1)
    with pytest.raises(GankitError, match=match):
        lat.with_codes(lat.sample(2, gen()), cat=cat, cont=cont)


def test_with_codes_on_a_latent_without_codes():
    with pytest.raises(GankitError, match="this latent has 0 \\(none\\)"):
        Latent(noise=2).with_codes(torch.zeros(1, 2), cat={0: 0})


@pytest.mark.parametrize("kwargs,match", [
    ({"noise": 4, "prior": "gauss"}, "unknown latent prior 'gauss'; choose one of: normal"),
    ({"noise": 4, "cat": (10, 1)}, "needs >= 2 values; got cat=\\[10, 1\\]"),
    ({"noise": -1}, "must be >= 0"),
    ({"noise": 0}, "the latent is empty"),
])
def test_latent_bad_config(kwargs, match):
    with pytest.raises(GankitError, match=match):
        Latent(**kwargs)


def test_wrong_latent_width_is_rejected():
    lat = Latent(noise=3, cat=(2,))
    with pytest.raises(GankitError, match="expected \\(n, 5\\)"):
        lat.split(torch.zeros(4, 3))
    with pytest.raises(GankitError, match="expected \\(n, 5\\)"):
        lat.with_codes(torch.zeros(5), cat={0: 1})


def test_codes_only_latent():
    lat = Latent(noise=0, cat=(10,))  # a purely discrete prior is allowed
    z, cat, _ = lat.sample_with_codes(4, gen(8))
    assert z.shape == (4, 10) and torch.equal(z.argmax(1), cat[:, 0])
