"""Push-based random mixing: the closed-form expected pressure, the literal model's contacts when every agent is a
source, a symmetric contact matrix under autograd, order invariance, and SIR attack rates against the literal model."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from populace.core import AgentTable, World, rng
from populace.models.sir import SIR
from populace.network import RandomMixing
from populace.network.mixing import BINOMIAL_TAIL, _binomial_cdf


class LiteralMixing(torch.nn.Module):
    """The model drawn literally (every agent's calls, each used both ways): RandomMixing's pull path before the
    push, kept here as the reference."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def aggregate(self, x, world, *, support=None):
        n = x.shape[0]
        partners = world.randint("random_mixing", n, n=self.calls)
        callers = torch.arange(n).unsqueeze(1).expand_as(partners)
        keep = partners != callers
        partners, callers = partners[keep], callers[keep]
        return torch.zeros_like(x).index_add_(0, callers, x[partners]) + torch.zeros_like(x).index_add_(
            0, partners, x[callers])


def _world(n: int, seed: int = 0) -> World:
    return World.of(AgentTable({"id": torch.arange(n, dtype=torch.int32)}), seed=seed)


@pytest.mark.parametrize(("trials", "p"), [(1, 0.5), (6, 1 / 3), (999 * 4, 1 / 1000), (9_999_990, 1e-6)])
def test_incoming_call_count_table_is_the_binomial_cdf(trials, p):
    cdf = _binomial_cdf(trials, p).numpy()
    k = np.arange(cdf.size)
    assert np.abs(cdf - stats.binom.cdf(k, trials, p)).max() < 1e-9
    assert 1 - cdf[-1] < max(BINOMIAL_TAIL, 1e-15)


def test_expected_pressure_is_the_closed_form_for_sources_and_the_rest():
    # E[y_i] = w (2m / N) sum_{j != i} x_j. Per day y_i is a sum of x_j times about Poisson(2m / N) contacts, so
    # its variance is about (2m / N) sum_{j != i} x_j^2 (times w^2); the mean over D days has that over D.
    n, m, w, days = 400, 3, 0.5, 600
    gen = torch.Generator().manual_seed(3)
    x = torch.zeros(n)
    sources = torch.randperm(n, generator=gen)[:40]
    x[sources] = 1 + torch.randint(0, 4, (40,), generator=gen).float()
    mixing = RandomMixing(m, weight=w)
    world = _world(n, seed=11)
    total = torch.zeros(n, dtype=torch.float64)
    for _ in range(days):
        total += mixing.aggregate(x, world).double()
        world = world.advance()
    mean = total / days
    expected = w * 2 * m / n * (x.sum() - x).double()
    sd = w * torch.sqrt(2 * m / n * ((x**2).sum() - x**2).double() / days)
    z = (mean - expected) / sd
    assert float(z.abs().max()) < 5  # 400 agents
    is_source = x != 0
    for group in (is_source, ~is_source):  # each group's mean: sd / sqrt(group size)
        assert float(z[group].mean().abs()) < 4 / math.sqrt(int(group.sum()))


def test_every_agent_a_source_gives_the_literal_models_contacts():
    n, m = 3_000, 4
    x = torch.randint(1, 5, (n,), generator=torch.Generator().manual_seed(0)).float()  # sums exact in float32
    world = _world(n, seed=5).advance()
    assert torch.equal(RandomMixing(m).aggregate(x, world), LiteralMixing(m).aggregate(x, world))


def test_autograd_sees_a_symmetric_contact_matrix_with_the_push_value():
    n, m = 80, 3
    x = torch.zeros(n)
    x[torch.randperm(n, generator=torch.Generator().manual_seed(1))[:15]] = 1.0
    world = _world(n, seed=2)
    mixing = RandomMixing(m)
    pushed = mixing.aggregate(x, world)
    a = torch.autograd.functional.jacobian(lambda v: mixing.aggregate(v, world), x)  # [N, N]: today's A
    assert torch.equal(a, a.T)
    assert not bool(a.diagonal().any())
    assert torch.equal(a, a.round())
    assert bool((a >= 0).all())
    assert torch.equal(a @ x, pushed)
    with torch.enable_grad():
        value = mixing.aggregate(x.clone().requires_grad_(), world)
    assert torch.equal(value.detach(), pushed)
    # every agent has its m calls (a few self-calls dropped) plus the calls into it: about 2m contacts
    assert float(a.sum(1).mean()) == pytest.approx(2 * m, abs=0.8)


def test_sparse_sources_are_invariant_to_agent_order():
    n = 4_000
    gen = torch.Generator().manual_seed(4)
    x = torch.zeros(n)
    x[torch.randperm(n, generator=gen)[:200]] = torch.randint(1, 4, (200,), generator=gen).float()
    world = World.of(AgentTable({"id": torch.arange(n, dtype=torch.int32), "x": x}), seed=9)
    perm = torch.randperm(n, generator=gen)
    shuffled = World.of(world.agents.take(perm), seed=9)
    mixing = RandomMixing(5)
    reference = mixing.aggregate(world.agents.x, world)
    assert torch.equal(mixing.aggregate(shuffled.agents.x, shuffled), reference[perm])


@pytest.fixture
def one_thread():
    """Run on one thread: at 5,000 agents a second one only adds synchronisation (a lot of it on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_sir_attack_rates_match_the_literal_models_over_seeds():
    # The same SIR with contacts drawn literally (every agent's calls) and push-based; R0 = 2m D (1 - e^-beta)
    # = 1.8 so that many agents are sources at the peak (where the push's approximation is most visible).
    n, m, beta, seeds = 5_000, 5, 0.0367, range(8)
    rates = {}
    for name, contacts in (("literal", LiteralMixing(m)), ("push", RandomMixing(m))):
        model = SIR(contacts, n, beta_per_day=beta, infectious_days=5.0, initial_infected=25)
        rates[name] = np.array([1 - float(model.run(90, seed=s, progress=False)["susceptible"][-1]) / n
                                for s in seeds])
    literal, push = rates["literal"], rates["push"]
    assert 0.55 < literal.mean() < 0.85  # an epidemic with a large share infected (final size at R0 1.8: 0.73)
    se = math.sqrt(literal.var(ddof=1) / len(literal) + push.var(ddof=1) / len(push))
    assert abs(push.mean() - literal.mean()) < 4 * se + 0.002
    assert stats.ks_2samp(literal, push).pvalue > 0.001


def test_randint_lane_is_one_column_of_the_many_lane_draw():
    ids = torch.arange(1000)
    all_lanes = rng.randint(3, 1, "s", ids, 97, n=6)
    for lane in (0, 5):
        assert torch.equal(rng.randint(3, 1, "s", ids, 97, lane=lane), all_lanes[:, lane])
    with pytest.raises(ValueError, match="not both"):
        rng.randint(3, 1, "s", ids, 97, n=6, lane=2)
