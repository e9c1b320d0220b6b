"""Auxiliary losses (ACGAN, InfoGAN) and the added regularisers against hand computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.losses.auxiliary import (
    HALF_LOG_2PI,
    acgan_ce,
    gaussian_nll,
    info_loss,
    q_out_dim,
    split_q,
)
from gankit.losses.regularizers import (
    clip_grad_norm,
    path_length_noise,
    path_length_penalty,
    weight_decay_penalty,
)
from gankit.nets.latent import Latent


def close(a: torch.Tensor | float, b: float, tol: float = 1e-6) -> None:
    a = float(a.detach()) if isinstance(a, torch.Tensor) else a
    assert abs(a - b) <= tol * max(1.0, abs(b)), (float(a), b)


# --- ACGAN -------------------------------------------------------------------------------

def test_acgan_ce_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = torch.tensor([0, 1])

    def nll(row, k):  # -log softmax, by hand
        return -(row[k] - math.log(sum(math.exp(v) for v in row)))

    rows = logits.tolist()
    want = (nll(rows[0], 0) + nll(rows[1], 1)) / 2
    out = acgan_ce(logits, labels)
    assert out.dtype == torch.float32 and out.shape == ()
    close(out, want)
    close(acgan_ce(logits.bfloat16(), labels), float(F.cross_entropy(
        logits.bfloat16().float(), labels)))


# --- InfoGAN -----------------------------------------------------------------------------

def test_uniform_categorical_posterior_gives_log_k():
    codes = [torch.tensor([0, 3, 9, 5]), torch.tensor([1, 0, 2, 2])]
    logits = [torch.zeros(4, 10), torch.full((4, 3), 7.0)]  # equal logits: uniform Q
    close(info_loss(logits, codes), math.log(10) + math.log(3))


def test_perfect_posterior_gives_zero_ce_and_gaussian_constant():
    codes = torch.tensor([2, 0, 1])
    logits = F.one_hot(codes, 3).float() * 50.0  # Q puts all its mass on the true code
    cont = torch.tensor([[0.3, -0.7], [1.0, 0.0], [-0.2, 0.9]])
    close(info_loss([logits], [codes]), 0.0)
    out = info_loss([logits], [codes], cont.clone(), cont)  # mean = the code, unit std
    close(out, 2 * 0.5 * math.log(2 * math.pi))  # 0.5 log(2 pi) per continuous code
    close(HALF_LOG_2PI, 0.9189385332)


def test_unit_std_nll_by_hand():
    codes = torch.tensor([[0.5, -1.0], [0.0, 0.25]])
    mean = torch.tensor([[0.0, 0.0], [1.0, 0.25]])
    per_sample = [0.5 * 0.25 + 0.5 * 1.0, 0.5 * 1.0 + 0.0]
    want = sum(per_sample) / 2 + 2 * HALF_LOG_2PI
    out = info_loss([], [], mean, codes)
    assert out.dtype == torch.float32
    close(out, want)


def test_learnt_std_nll_by_hand():
    codes = torch.tensor([[1.0], [-0.5]])
    mean = torch.tensor([[0.0], [0.5]])
    logstd = torch.tensor([[math.log(2.0)], [math.log(0.5)]])
    # log sigma + (c - mu)^2 / (2 sigma^2) + 0.5 log 2 pi
    s0 = math.log(2.0) + 1.0 / (2 * 4.0)
    s1 = math.log(0.5) + 1.0 / (2 * 0.25)
    close(info_loss([], [], mean, codes, logstd), (s0 + s1) / 2 + HALF_LOG_2PI)
    # against torch's Gaussian NLL (which omits the constant and takes the variance)
    ref = F.gaussian_nll_loss(mean, codes, logstd.exp().square(), full=True)
    close(gaussian_nll(codes, mean, logstd).mean(), float(ref), 1e-5)


def test_info_loss_sums_categorical_and_continuous_terms():
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(5, 4, generator=g), torch.randn(5, 2, generator=g)]
    codes = torch.stack([torch.tensor([0, 1, 2, 3, 0]), torch.tensor([1, 1, 0, 0, 1])], 1)
    mean, cont = torch.randn(5, 3, generator=g), torch.rand(5, 3, generator=g) * 2 - 1
    want = (F.cross_entropy(logits[0], codes[:, 0]) + F.cross_entropy(logits[1], codes[:, 1])
            + ((cont - mean).square() / 2 + HALF_LOG_2PI).sum(1).mean())
    close(info_loss(logits, codes, mean, cont), float(want))  # codes as one (N, 2) tensor
    close(info_loss(logits, list(codes.unbind(1)), mean, cont), float(want))


def test_info_loss_gradients_reach_q():
    mean = torch.zeros(2, 1, requires_grad=True)
    info_loss([], [], mean, torch.tensor([[1.0], [-3.0]])).backward()
    # d/dmu 0.5 (c - mu)^2 = mu - c, averaged over the batch of 2
    assert mean.grad.flatten().tolist() == pytest.approx([-0.5, 1.5], abs=1e-6)


def test_split_q_layout():
    assert q_out_dim((4, 3), 2, True) == 4 + 3 + 2 * 2
    out = torch.arange(2 * 11, dtype=torch.float32).view(2, 11)
    cats, mean, logstd = split_q(out, (4, 3), 2, True)
    assert [c.shape[1] for c in cats] == [4, 3]
    assert torch.equal(cats[0], out[:, 0:4]) and torch.equal(cats[1], out[:, 4:7])
    assert torch.equal(mean, out[:, 7:9]) and torch.equal(logstd, out[:, 9:11])


def test_split_q_without_std_or_cont():
    out = torch.randn(3, 12)
    parts = split_q(out, (10,), 2, False)
    assert torch.equal(parts.cont_mean, out[:, 10:]) and parts.cont_logstd is None
    parts = split_q(out[:, :10], (10,), 0, False)
    assert parts.cont_mean is None and parts.cont_logstd is None
    assert torch.equal(parts.cat_logits[0], out[:, :10])


def test_latent_codes_round_trip_through_info_loss():
    lat = Latent(noise=4, cat=(5,), cont=2)
    _, cat, cont = lat.sample_with_codes(6, torch.Generator().manual_seed(3))
    q = torch.cat([F.one_hot(cat[:, 0], 5).float() * 60.0, cont], dim=1)  # a perfect Q
    parts = split_q(q, lat.cat, lat.cont, False)
    close(info_loss(parts.cat_logits, cat, parts.cont_mean, cont), 2 * HALF_LOG_2PI)


@pytest.mark.parametrize("call,match", [
    (lambda: split_q(torch.zeros(2, 5), (4,), 1, True), "expected \\(N, 6\\)"),
    (lambda: info_loss([torch.zeros(2, 3)], []), "1 categorical logit blocks but 0"),
    (lambda: info_loss([], [], torch.zeros(2, 1), None), "both cont_pred and cont_codes"),
    (lambda: info_loss([], []), "no codes"),
    (lambda: info_loss([], [], torch.zeros(2, 1), torch.zeros(2, 2)), "cont_pred has shape"),
])
def test_aux_bad_input(call, match):
    with pytest.raises(GankitError, match=match):
        call()


# --- path length ---------------------------------------------------------------------------

A = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 1.0],
                  [-2.0, 0.0, 0.5], [0.0, 0.25, -1.0]])  # G(z) = z A^T as a (1, 2, 3) image


def linear_g(z: torch.Tensor) -> torch.Tensor:
    return (z @ A.T).view(-1, 1, 2, 3)


def hand_lengths(noise: torch.Tensor) -> list[float]:
    # grad_z sum(G(z) * y) = A^T y for a linear G, whatever z is
    out = []
    for y in noise.flatten(1).tolist():
        g = [sum(A[p, d].item() * y[p] for p in range(6)) for d in range(3)]
        out.append(math.sqrt(sum(v * v for v in g)))
    return out


def test_path_length_penalty_on_a_linear_generator():
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    noise = path_length_noise(linear_g(z), torch.Generator().manual_seed(1))
    lengths = hand_lengths(noise)
    pl_mean, decay = 1.5, 0.01
    new_mean = pl_mean + decay * (sum(lengths) / 4 - pl_mean)
    penalty, got_mean = path_length_penalty(linear_g(z), z, torch.tensor(pl_mean), noise, decay)
    close(got_mean, new_mean, 1e-5)
    close(penalty, sum((v - new_mean) ** 2 for v in lengths) / 4, 1e-5)
    assert penalty.dtype == torch.float32 and got_mean.dtype == torch.float32
    assert not got_mean.requires_grad  # the state update carries no graph


def test_path_length_mean_tracks_the_lengths():
    z = torch.randn(8, 3, requires_grad=True)
    noise = path_length_noise(linear_g(z), torch.Generator().manual_seed(2))
    mean_len = sum(hand_lengths(noise)) / 8
    pl_mean = torch.tensor(0.0)
    for step in range(1, 4):  # a - a_t = (1 - decay)^t (a - a_0) with a fixed batch
        _, pl_mean = path_length_penalty(linear_g(z), z, pl_mean, noise, 0.5)
        close(pl_mean, mean_len * (1 - 0.5 ** step), 1e-5)


def test_path_length_noise_scale_and_determinism():
    fake = torch.zeros(2, 3, 4, 5)
    noise = path_length_noise(fake, torch.Generator().manual_seed(7))
    want = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(7)) / math.sqrt(20)
    assert torch.equal(noise, want)
    assert path_length_noise(torch.zeros(2, 6), None).shape == (2, 6)  # (N, D): no division


def test_path_length_penalty_bf16_and_second_order_gradient():
    a = A.clone().requires_grad_(True)
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    fake = (z @ a.T).view(-1, 1, 2, 3)
    noise = path_length_noise(fake, torch.Generator().manual_seed(1))
    ref, _ = path_length_penalty(fake, z, 1.0, noise)
    low, low_mean = path_length_penalty(fake.bfloat16(), z, 1.0, noise)
    assert low.dtype == torch.float32 and low_mean.dtype == torch.float32
    close(low, float(ref.detach()), 2e-2)
    ref.backward()  # create_graph=True: the penalty reaches G's weights
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


# --- weight decay and clipping -------------------------------------------------------------

def test_weight_decay_penalty_by_hand():
    w = torch.tensor([[1.0, -2.0], [0.5, 0.0]], requires_grad=True)
    b = torch.tensor([3.0], dtype=torch.bfloat16)
    out = weight_decay_penalty([w, b], 0.1)
    close(out, 0.1 * (1 + 4 + 0.25 + 9))
    assert out.dtype == torch.float32
    out.backward()  # coupled: the gradient is 2 beta theta
    assert w.grad.flatten().tolist() == pytest.approx([0.2, -0.4, 0.1, 0.0], abs=1e-7)
    close(weight_decay_penalty([], 0.1), 0.0)


def grads_of(params):
    return torch.cat([p.grad.flatten() for p in params])


@pytest.mark.parametrize("scale", [10.0, 0.01])
def test_clip_grad_norm(scale):
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(5))]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * scale
    before = grads_of(params).clone()
    norm = clip_grad_norm(params + [torch.nn.Parameter(torch.zeros(2))], 1.0)  # no grad: skip
    assert norm.dtype == torch.float32 and norm.shape == ()
    close(norm, float(before.norm()), 1e-6)
    after = grads_of(params).norm()
    assert float(after) <= 1.0 + 1e-6
    if float(before.norm()) > 1.0:
        close(after, 1.0, 1e-5)
    else:
        assert torch.equal(grads_of(params), before)
