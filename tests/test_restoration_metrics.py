"""PSNR / SSIM as restoration papers report them: hand computations, border, Y, masks, parity."""

from __future__ import annotations

import math

import fidelity_ref
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gankit.errors import GankitError
from gankit.metrics.restoration import Scores, psnr, restoration_scores, rgb_to_y, ssim


def pair(seed: int = 0, c: int = 3, h: int = 32, w: int = 32, noise: float = 0.1):
    rng = np.random.default_rng(seed)
    a = rng.random((c, h, w))
    return a, np.clip(a + noise * rng.standard_normal((c, h, w)), 0, 1)


# ---------------------------------------------------------------- shapes and types


def test_types_and_shapes():
    a, b = pair()
    for x, y in [(a, b), (torch.from_numpy(a).float(), torch.from_numpy(b).float()),
                 ((a * 255).round().astype(np.uint8), (b * 255).round().astype(np.uint8)),
                 (a[0], b[0]), (a[:1], b[:1])]:
        assert isinstance(psnr(x, y), float) and isinstance(ssim(x, y), float)
    assert rgb_to_y(a).shape == (32, 32) and rgb_to_y(a).dtype == np.float64
    assert set(restoration_scores(a, b)) == {"psnr", "ssim"}
    mask = np.zeros((32, 32), bool)
    mask[8:16, 8:16] = True
    assert set(restoration_scores(a, b, mask=mask)) == {"psnr", "ssim", "psnr_hole", "ssim_hole"}
    assert Scores(20.0, 0.5).to_dict() == {"psnr": 20.0, "ssim": 0.5}


# ---------------------------------------------------------------- PSNR by hand


def test_psnr_by_hand_2x2():
    a = np.zeros((2, 2))
    b = np.array([[0.1, 0.0], [0.0, 0.0]])
    # MSE = 0.1^2 / 4 = 0.0025; PSNR = 10 log10(1 / 0.0025) = 10 log10(400) = 26.0206 dB
    assert psnr(a, b) == pytest.approx(10 * math.log10(400), abs=1e-12)
    assert psnr(a, b) == pytest.approx(26.0206, abs=1e-4)


def test_psnr_by_hand_3x3_uint8():
    a = np.full((3, 3), 100, np.uint8)
    b = a.copy()
    b[1, 1] = 110
    # one pixel off by 10 / 255: MSE = (10 / 255)^2 / 9; PSNR = 10 log10(9 * 255^2 / 100)
    # = 10 log10(5852.25) = 37.6732 dB
    assert psnr(a, b) == pytest.approx(10 * math.log10(9 * 255**2 / 100), abs=1e-12)
    assert psnr(a, b) == pytest.approx(37.6732, abs=1e-4)
    assert psnr(a, a) == math.inf


def test_psnr_matches_skimage():
    a, b = pair(1)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-10)


def test_border_crops_the_error_away():
    a = np.full((3, 5, 5), 0.5)
    b = a.copy()
    b[:, 0, :] = 0.9  # errors only in the outer ring
    b[:, :, 4] = 0.1
    assert math.isfinite(psnr(a, b))
    assert psnr(a, b, border=1) == math.inf
    assert ssim(a, b, border=1) == pytest.approx(1.0, abs=1e-12)
    b[:, 1, 1] = 0.6  # inside the crop, 3 x 3 x 3 values: 0.1 off at one pixel in 3 channels
    # MSE = 3 * 0.1^2 / 27 = 0.01 / 9; PSNR = 10 log10(900) = 29.5424 dB
    assert psnr(a, b, border=1) == pytest.approx(10 * math.log10(900), abs=1e-9)


def test_masked_psnr_counts_only_the_hole():
    a = np.zeros((3, 4, 4))
    b = np.full((3, 4, 4), 0.3)
    mask = np.zeros((4, 4))
    mask[1:3, 1:3] = 1
    b[:, 1:3, 1:3] = 0.1  # error 0.1 inside the hole, 0.3 outside
    assert psnr(a, b, mask=mask) == pytest.approx(20.0, abs=1e-9)  # 10 log10(1 / 0.01)
    # whole image: MSE = (4 * 0.01 + 12 * 0.09) / 16 = 0.07
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / 0.07), abs=1e-9)
    # a mask as gankit.data.masks makes it: (1, 1, H, W) float tensor
    assert psnr(a, b, mask=torch.from_numpy(mask).float()[None, None]) == pytest.approx(20.0)


# ---------------------------------------------------------------- luma


def test_rgb_to_y_bt601_by_hand():
    colours = {  # Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255
        (1, 0, 0): (16 + 65.481) / 255,  # 81.481
        (0, 1, 0): (16 + 128.553) / 255,  # 144.553
        (0, 0, 1): (16 + 24.966) / 255,  # 40.966
        (1, 1, 1): 235 / 255,  # 16 + 65.481 + 128.553 + 24.966 = 235
        (0, 0, 0): 16 / 255,
    }
    for rgb, y in colours.items():
        img = np.broadcast_to(np.array(rgb, float)[:, None, None], (3, 2, 2))
        assert np.allclose(rgb_to_y(img), y, rtol=0, atol=1e-12), rgb
    grey = np.random.default_rng(0).random((1, 3, 3))
    assert np.array_equal(rgb_to_y(grey), grey[0]) and np.array_equal(rgb_to_y(grey[0]), grey[0])


def test_y_channel_scores_the_luma():
    a, b = pair(2)
    assert psnr(a, b, y_channel=True) == pytest.approx(psnr(rgb_to_y(a), rgb_to_y(b)), abs=1e-12)
    assert ssim(a, b, y_channel=True) == pytest.approx(ssim(rgb_to_y(a), rgb_to_y(b)), abs=1e-12)
    assert psnr(a, b, y_channel=True) != pytest.approx(psnr(a, b))


# ---------------------------------------------------------------- SSIM


def test_ssim_identical_and_constant():
    a, _ = pair(3)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, np.full_like(a, 0.5)) < 0.1


def test_ssim_matches_torchmetrics():
    """torchmetrics pads with torch's reflect and averages the whole map; skimage (like Wang et
    al.'s MATLAB ssim_index.m, whose map is 'valid') averages only pixels >= 5 from the edge.
    The maps agree there, so torchmetrics' map cropped by 5 gives our number."""
    fidelity_ref.ensure_importable()  # torchmetrics imports torch-fidelity when it is installed
    tm = pytest.importorskip("torchmetrics.functional.image")
    a, b = pair(4, noise=0.2)
    whole, smap = tm.structural_similarity_index_measure(
        torch.from_numpy(b)[None], torch.from_numpy(a)[None], gaussian_kernel=True, sigma=1.5,
        kernel_size=11, data_range=1.0, return_full_image=True)
    assert ssim(a, b) == pytest.approx(float(smap[..., 5:-5, 5:-5].mean()), abs=1e-9)
    assert ssim(a, b) == pytest.approx(float(whole), abs=1e-2)  # edges differ, by ~5e-3 here
    interior = np.zeros((32, 32), bool)
    interior[5:-5, 5:-5] = True
    assert ssim(a, b, mask=interior) == pytest.approx(ssim(a, b), abs=1e-12)


def test_masked_ssim_averages_the_map_over_the_hole():
    a, b = pair(5, noise=0.0)
    b = b.copy()
    b[:, :, 20:] = np.clip(b[:, :, 20:] + 0.2, 0, 1)  # changes only columns >= 20
    mask = np.zeros((32, 32), bool)
    mask[4:28, 2:12] = True  # more than the window's radius 5 from column 20
    assert ssim(a, b, mask=mask) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, b) < 0.99
    _, smap = structural_similarity(a, b, data_range=1.0, channel_axis=0, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, full=True)
    ones = np.ones((32, 32))
    assert ssim(a, b, mask=ones) == pytest.approx(smap.mean(), abs=1e-12)  # edges included


@pytest.mark.parametrize("side", [1, 2, 4, 7, 10])
def test_ssim_small_images(side):
    a, b = pair(6, h=side, w=side + 3)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert -1 <= ssim(a, b) <= 1


def test_restoration_scores_match_the_parts():
    a, b = pair(7)
    mask = np.zeros((32, 32))
    mask[10:20, 5:25] = 1
    s = restoration_scores(torch.from_numpy(a), torch.from_numpy(b), mask=mask, border=2,
                           y_channel=True)
    assert s == {"psnr": psnr(a, b, 2, True), "ssim": ssim(a, b, 2, True),
                 "psnr_hole": psnr(a, b, 2, True, mask), "ssim_hole": ssim(a, b, 2, True, mask)}


# ---------------------------------------------------------------- bad input


def test_bad_input():
    a, b = pair()
    with pytest.raises(GankitError, match=r"pred holds values in \[-0\.99.*allowed: \[0, 1\]"):
        psnr(a * 2 - 1, b)  # an image in [-1, 1]
    with pytest.raises(GankitError, match="shape"):
        psnr(a.transpose(1, 2, 0), b.transpose(1, 2, 0))  # (H, W, C)
    with pytest.raises(GankitError, match="must match"):
        psnr(a, b[:, :16])
    with pytest.raises(GankitError, match="border"):
        psnr(a, b, border=16)
    with pytest.raises(GankitError, match="no pixel"):
        psnr(a, b, mask=np.zeros((32, 32)))
    with pytest.raises(GankitError, match="mask has shape"):
        ssim(a, b, mask=np.ones((16, 16)))
    with pytest.raises(GankitError, match="only 0 and 1"):
        psnr(a, b, mask=np.full((32, 32), 0.5))
    with pytest.raises(GankitError, match="dtype"):
        psnr(a.astype(np.int32), b.astype(np.int32))
    with pytest.raises(GankitError, match="NaN"):
        psnr(np.full_like(a, np.nan), b)
