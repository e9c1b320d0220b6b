"""Each adversarial loss and regulariser against values worked out by hand."""

import math

import pytest
import torch

from gankit.losses import LOSSES, Objective, gradient_penalty, r1_penalty

REAL = torch.tensor([1.0, -2.0])
FAKE = torch.tensor([0.5, -1.0])


def sp(t: float) -> float:  # softplus, by hand
    return math.log1p(math.exp(t))


def close(a: torch.Tensor, b: float) -> None:
    assert abs(float(a) - b) <= 1e-6 * max(1.0, abs(b)), (float(a), b)


def test_logistic_d_terms_are_cross_entropies():
    r, f = LOSSES.get("ns").d(REAL, FAKE)
    # -log sigmoid(1), -log sigmoid(-2) ; -log(1 - sigmoid(0.5)), -log(1 - sigmoid(-1))
    close(r, (sp(-1.0) + sp(2.0)) / 2)
    close(f, (sp(0.5) + sp(-1.0)) / 2)
    close(r, 1.2200948)  # 0.3132617 and 2.1269280 averaged
    assert LOSSES.get("minimax").d is LOSSES.get("ns").d


def test_g_losses_by_hand():
    close(LOSSES.get("ns").g(FAKE), (sp(-0.5) + sp(1.0)) / 2)
    close(LOSSES.get("minimax").g(FAKE), -(sp(0.5) + sp(-1.0)) / 2)
    close(LOSSES.get("lsgan").g(FAKE), 0.5 * ((0.5 - 1) ** 2 + (-1 - 1) ** 2) / 2)
    close(LOSSES.get("wgan").g(FAKE), 0.25)
    close(LOSSES.get("hinge").g(FAKE), 0.25)


def test_lsgan_wgan_hinge_d_by_hand():
    r, f = LOSSES.get("lsgan").d(REAL, FAKE)
    close(r, 0.5 * (0.0 + 9.0) / 2)
    close(f, 0.5 * (0.25 + 1.0) / 2)
    r, f = LOSSES.get("wgan").d(REAL, FAKE)
    close(r, 0.5)  # -mean(1, -2)
    close(f, -0.25)
    r, f = LOSSES.get("hinge").d(REAL, FAKE)
    close(r, (0.0 + 3.0) / 2)  # relu(1 - 1), relu(1 + 2)
    close(f, (1.5 + 0.0) / 2)  # relu(1 + 0.5), relu(1 - 1)


def sig(t: float) -> float:  # logistic function, by hand
    return 1.0 / (1.0 + math.exp(-t))


@pytest.mark.parametrize("name,grad", [
    ("ns", lambda t: -sig(-t)),  # d/dt softplus(-t) = -sigmoid(-t)
    ("minimax", lambda t: -sig(t)),  # d/dt -softplus(t) = -sigmoid(t)
])
def test_g_gradients_by_hand(name, grad):
    logits = [-6.0, 0.0, 2.0]
    fake = torch.tensor(logits, requires_grad=True)
    LOSSES.get(name).g(fake).backward()  # a mean over 3 logits: each gradient / 3
    assert fake.grad.tolist() == pytest.approx([grad(t) / 3 for t in logits], rel=1e-6)


def test_minimax_saturates_where_ns_does_not():
    # Both push D(G(z)) up (negative gradient) and agree at D(G(z)) = 0, but where D rejects
    # a fake confidently the minimax gradient vanishes (Goodfellow et al. 2014, section 3)
    grads = {}
    for name in ("ns", "minimax"):
        fake = torch.tensor([-6.0, 0.0], requires_grad=True)
        LOSSES.get(name).g(fake).backward()
        grads[name] = fake.grad
    assert torch.all(grads["ns"] < 0) and torch.all(grads["minimax"] < 0)
    assert grads["ns"][1] == grads["minimax"][1]
    assert abs(grads["minimax"][0]) < 0.01 * abs(grads["ns"][0])


def test_r1_on_a_linear_critic():
    w = torch.tensor([3.0, -4.0])  # D(x) = w.x, |grad| = 5 everywhere
    x = torch.randn(7, 2, requires_grad=True)
    pen = r1_penalty(x @ w, x, gamma=10.0)
    close(pen, 0.5 * 10.0 * 25.0)


def test_gradient_penalty_on_a_linear_critic():
    w = torch.tensor([0.6, 0.8, 0.0])  # unit-norm gradient -> zero penalty
    real, fake = torch.randn(5, 3), torch.randn(5, 3)
    close(gradient_penalty(lambda x: x @ w, real, fake, torch.rand(5), lam=10.0), 0.0)
    w2 = 2 * w  # |grad| = 2 -> lambda * (2 - 1)^2
    close(gradient_penalty(lambda x: x @ w2, real, fake, torch.rand(5), lam=10.0), 10.0)


def test_gradient_penalty_evaluates_d_on_interpolates():
    seen = []
    real, fake = torch.zeros(2, 1), torch.ones(2, 1)

    def d(x):
        seen.append(x.detach().clone())
        return (x ** 2).sum(1)

    gradient_penalty(d, real, fake, torch.tensor([0.25, 0.75]), lam=1.0)
    assert torch.allclose(seen[0].flatten(), torch.tensor([0.25, 0.75]))


def test_objective_names_its_terms():
    obj = Objective.from_names("hinge", r1_gamma=1.0, gp_lambda=1.0)
    d = torch.nn.Linear(3, 1)
    terms = obj.d_losses(lambda x: d(x).squeeze(1), torch.randn(4, 3), torch.randn(4, 3),
                         torch.Generator().manual_seed(0))
    stats = {"d_acc_real", "d_acc_fake", "d_logit_real", "d_logit_fake", "d_logit_spread"}
    assert set(terms) == {"d_real", "d_fake", "d_r1", "d_gp"} | stats
    assert all(t.dtype == torch.float32 and t.dim() == 0 for t in terms.values())
    assert not any(terms[k].requires_grad for k in stats)  # logged, never summed into the loss
    assert set(obj.g_losses(torch.randn(4))) == {"g_adv"}


def test_lazy_r1_weighs_the_penalty_by_its_interval():
    # D(x) = x.w, so |grad_x D|^2 = |w|^2 = 14 for every sample: R1 = (gamma/2) * 14
    w = torch.tensor([1.0, 2.0, 3.0])
    lazy = Objective.from_names("ns", r1_gamma=0.5, r1_every=4)
    args = (lambda x: x @ w, torch.randn(5, 3), torch.randn(5, 3), torch.Generator())
    close(lazy.d_losses(*args, r1=True)["d_r1"], 4 * 0.25 * 14)
    skipped = lazy.d_losses(*args, r1=False)
    assert float(skipped["d_r1"]) == 0.0 and not skipped["d_r1"].requires_grad
    assert "d_r1" not in Objective.from_names("ns").d_losses(*args, r1=True)
