r"""`Cooperation`: S societies of the donor game with cultural evolution at once, one engine step a round.

State. The "agents" table has S n rows, society-major (seat i of society s is row s n + i; seats 0..h-1 are
A_0..A_{h-1}, seats h..n-1 are B_0..B_{h-1}, `populace.models.cooperation.schedule`): society, seat (int32),
strategy (int64: the agent's lineage, a row of the `StrategyTable`), theta (float [N, 4]: its own strategy
parameters, `populace.models.cooperation.strategies`), resources (float), trace (float [N, D]) and trace_length
(int8: the valid entries of the trace, 0..D). The "societies" table has S rows: mean_resources (after the round),
donated (sum of the gifts x of the round), punished (sum spent on punishment in the round).

Traces. Entry 0 of an agent's trace is the signed fraction it gave as donor last time; the rest is its recipient's
trace at that time: when donor i gives f to recipient j, trace_i <- (f, trace_j[0], ..., trace_j[D - 2]) and
length_i <- min(D, 1 + length_j). A donor reading its recipient's trace thus sees what the recipient did last,
what that partner had done before, and so on, D steps back.

Each step (`forward`) plays round t mod rounds of generation t // rounds (t the clock):

1. `renew`, on the first round of every generation but the first: selection of the survivors, inheritance and
   mutation for the newcomers (`populace.models.cooperation.selection`), resources back to R0, traces cleared;
2. `decide`: each donor's fraction f from its theta and its recipient's trace;
3. `settle`: with g = max(f, 0) the gift and p = max(-f, 0) the punishment (fractions of the donor's R_d),
   R_d <- (1 - g - p) R_d and R_r <- max(0, R_r + m g R_d - k p R_d) (m = multiplier, k = punishment_factor; the
   floor only with punishment); the donors' traces.

So the world after generation g's last round (clock (g + 1) rounds, g = 0, 1, ...) holds its final resources, and
the selection that ends it is made at the start of the next step (a run of G generations never selects after the
last): the metrics read final resources from the world, not from a copy.

Fast mode: exact clamps and floor. Differentiable mode: the strategy's clamp and indicator and the punishment floor
are smooth at `temperature` (`populace.models.cooperation.relaxed`; the floor's temperature is `temperature` R0, in
resources), while the split of f into g and p stays exact (its one kink is at f = 0); selection stays hard (ranks of
detached resources) and inherited theta carry gradients to their parents'. One step is one round, which has no
calendar length: the world keeps the default `StepLength` and no start date, so trajectories count steps.
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.core import AgentTable, Model, World, rng
from populace.models.cooperation import relaxed
from populace.models.cooperation.policy import DonorPolicy, DonorView
from populace.models.cooperation.rules import DonorGameRules
from populace.models.cooperation.schedule import pairing_schedule
from populace.models.cooperation.selection import parents, rank
from populace.models.cooperation.strategies import StrategyTable, donation_fraction, mutate

SOCIETIES = "societies"
ASSIGNMENT_STREAM = "cooperation-strategy"
SELECTION_STREAM = "cooperation-selection"
MUTATION_STREAM = "cooperation-mutation"


class Cooperation(Model):
    """S societies playing the donor game under `rules`, with `strategies` (module docstring).

    Args:
        n_societies: S (>= 1).
        strategies: the strategy table (default: `default_strategies()`); a trainable table's theta become the
            model's parameters.
        rules: the game's parameters (default: the published ones).
        assignment: int64 [S n] or [S, n], the strategy id of every agent at the start; default: drawn uniformly
            from the table by the counter-based RNG (keyed on the run's seed and the agent).
        temperature: tau > 0 of the smooth clamps in differentiable mode (units of the donated fraction).
        dtype: float dtype of the state (float64 for gradient checks).
        donors: a `DonorPolicy` that decides the donations and the newcomers' strategies instead of the
            parametric strategies (`populace.models.cooperation.policy`; e.g. language-model strategies). Its
            strategy ids replace the table's; theta is then unused (zeros, not mutated).
    """

    def __init__(self, n_societies: int, strategies: StrategyTable | None = None,
                 rules: DonorGameRules | None = None, *, assignment: Tensor | None = None,
                 temperature: float = 0.05, dtype: torch.dtype = torch.float32,
                 donors: DonorPolicy | None = None):
        super().__init__()
        if isinstance(n_societies, bool) or not isinstance(n_societies, int) or n_societies < 1:
            raise ValueError(f"n_societies must be an int >= 1, got {n_societies!r}")
        strategies = StrategyTable() if strategies is None else strategies
        if not isinstance(strategies, StrategyTable):
            raise TypeError(f"strategies must be a StrategyTable, got {type(strategies).__name__}")
        rules = DonorGameRules() if rules is None else rules
        if not isinstance(rules, DonorGameRules):
            raise TypeError(f"rules must be a DonorGameRules, got {type(rules).__name__}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0 (the smoothing of differentiable mode), got {temperature!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.n_societies = n_societies
        if donors is not None and not isinstance(donors, DonorPolicy):
            raise TypeError(f"donors must implement DonorPolicy (n_strategies, fractions, inherit), got "
                            f"{type(donors).__name__}")
        self.strategies = strategies
        self.donors = donors
        self.rules = rules
        self.temperature = float(temperature)
        self.dtype = dtype
        n_agents = n_societies * rules.agents_per_society
        if assignment is not None:
            assignment = torch.as_tensor(assignment).reshape(-1)
            if assignment.numel() != n_agents or assignment.dtype.is_floating_point or assignment.dtype == torch.bool:
                raise ValueError(f"assignment must hold one integer strategy id per agent ({n_societies} societies x "
                                 f"{rules.agents_per_society} = {n_agents}), got {assignment.dtype} with "
                                 f"{assignment.numel()} values")
            if int(assignment.min()) < 0 or int(assignment.max()) >= self.n_strategies:
                raise ValueError(f"assignment ids must index the {self.n_strategies} strategies, got range "
                                 f"[{int(assignment.min())}, {int(assignment.max())}]")
            assignment = assignment.to(torch.int64)
        self.register_buffer("assignment", assignment, persistent=False)
        donor, recipient = pairing_schedule(rules.agents_per_society, rules.rounds)
        self.register_buffer("donor", donor, persistent=False)  # [rounds, h] seats
        self.register_buffer("recipient", recipient, persistent=False)  # [rounds, h] seats
        # seat i's column in cat([donors, recipients]) of each round: [rounds, n]
        self.register_buffer("seat_order", torch.argsort(torch.cat([donor, recipient], dim=1), dim=1),
                             persistent=False)

    def extra_repr(self) -> str:
        return f"n_societies={self.n_societies}, rules={self.rules}"

    @property
    def n_strategies(self) -> int:
        """The strategies generation 0 is drawn from: the table's rows, or the donor policy's."""
        return len(self.strategies) if self.donors is None else self.donors.n_strategies

    # ---- state ------------------------------------------------------------------------------------------

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        s, n, depth = self.n_societies, self.rules.agents_per_society, self.rules.trace_depth
        device = self.donor.device
        ids = torch.arange(s * n, dtype=torch.int32, device=device)
        strategy = self.assignment
        if strategy is None:
            strategy = rng.randint(seed, 0, ASSIGNMENT_STREAM, ids, self.n_strategies)
        if self.donors is None:
            theta = self.strategies.theta.to(self.dtype)[strategy]
        else:
            theta = torch.zeros(s * n, self.strategies.theta.shape[1], dtype=self.dtype, device=device)
        agents = AgentTable({
            "society": ids // n, "seat": ids % n, "strategy": strategy,
            "theta": theta if differentiable else theta.detach(),
            "resources": torch.full((s * n,), float(self.rules.initial_resources), dtype=self.dtype, device=device),
            "trace": torch.zeros(s * n, depth, dtype=self.dtype, device=device),
            "trace_length": torch.zeros(s * n, dtype=torch.int8, device=device),
        })
        none = torch.zeros(s, dtype=self.dtype, device=device)
        societies = AgentTable({"mean_resources": none + self.rules.initial_resources, "donated": none,
                                "punished": none})
        return World(tables={"agents": agents, SOCIETIES: societies}, seed=seed, differentiable=differentiable)

    def generation(self, world: World) -> int:
        """The generation of the round this world plays next (0-based)."""
        return world.step // self.rules.rounds

    # ---- one round --------------------------------------------------------------------------------------

    def forward(self, world: World) -> World:
        world = self.renew(world)
        fraction = self.decide(world)
        return self.settle(world, fraction)

    def renew(self, world: World) -> World:
        """On the first round of generations 1, 2, ...: survivors keep their seats and theta, newcomers inherit
        their parent's strategy and mutated theta, everyone restarts at R0 with an empty trace (selection module)."""
        if world.step == 0 or world.step % self.rules.rounds:
            return world
        rules, agents = self.rules, world.agents
        s, n = self.n_societies, rules.agents_per_society
        u = world.uniform(SELECTION_STREAM).reshape(s, n)
        parent, survives = parents(rank(agents.resources.detach().reshape(s, n), u), rules.n_survivors)
        theta = agents.theta.reshape(s, n, -1)
        inherited = theta.gather(1, parent.unsqueeze(2).expand_as(theta))
        strategy = agents.strategy.reshape(s, n).gather(1, parent)
        if self.donors is not None:
            strategy = self.donors.inherit(strategy, survives, world)
        elif rules.mutation_std > 0:
            noise = torch.special.ndtri(world.uniform(MUTATION_STREAM, n=theta.shape[2], dtype=torch.float64))
            mutated = mutate(inherited, noise.reshape(theta.shape), rules.mutation_std)
            inherited = torch.where(survives.unsqueeze(2), inherited, mutated)
        return world.update({
            "strategy": strategy.reshape(-1),
            "theta": inherited.reshape(s * n, -1),
            "resources": torch.full_like(agents.resources, float(rules.initial_resources)),
            "trace": torch.zeros_like(agents.trace),
            "trace_length": torch.zeros_like(agents.trace_length),
        })

    def decide(self, world: World) -> Tensor:
        """f [S, h]: each donor's signed fraction this round, from its theta and its recipient's trace (or from the
        donor policy)."""
        agents, k = world.agents, world.step % self.rules.rounds
        s, n = self.n_societies, self.rules.agents_per_society
        recipient = self.recipient[k]
        if self.donors is not None:
            view = DonorView(round=k, generation=self.generation(world), donor_seats=self.donor[k],
                             donor_strategy=agents.strategy.reshape(s, n)[:, self.donor[k]],
                             donor_resources=agents.resources.reshape(s, n)[:, self.donor[k]],
                             recipient_trace=agents.trace.reshape(s, n, -1)[:, recipient],
                             recipient_history=agents.trace_length.reshape(s, n)[:, recipient])
            return self.donors.fractions(view, world)
        theta = agents.theta.reshape(s, n, -1)[:, self.donor[k]]  # [S, h, 4]
        last = agents.trace.reshape(s, n, -1)[:, recipient, 0]  # [S, h]
        has_history = agents.trace_length.reshape(s, n)[:, recipient] > 0
        tau = self.temperature if world.differentiable else 0.0
        return donation_fraction(theta, last, has_history, lowest=self.rules.lowest_fraction, temperature=tau)

    def settle(self, world: World, fraction: Tensor) -> World:
        """Transfers, punishments and the donors' traces of this round (module docstring)."""
        rules, agents, k = self.rules, world.agents, world.step % self.rules.rounds
        s, n = self.n_societies, rules.agents_per_society
        donor, recipient, order = self.donor[k], self.recipient[k], self.seat_order[k]
        resources = agents.resources.reshape(s, n)
        r_donor, r_recipient = resources[:, donor], resources[:, recipient]  # [S, h]
        gift = fraction.clamp(min=0) if rules.punishment else fraction
        given = gift * r_donor
        received = r_recipient + rules.multiplier * given
        if rules.punishment:
            spent = (-fraction).clamp(min=0) * r_donor
            tau = self.temperature * rules.initial_resources if world.differentiable else 0.0
            received = relaxed.clamp(received - rules.punishment_factor * spent, 0.0, float("inf"), tau)
        else:
            spent = torch.zeros_like(given)
        resources = torch.cat([r_donor - given - spent, received], dim=1)[:, order]
        trace = agents.trace.reshape(s, n, -1)
        length = agents.trace_length.reshape(s, n)
        donor_trace = torch.cat([fraction.unsqueeze(2), trace[:, recipient, :-1]], dim=2)
        trace = torch.cat([donor_trace, trace[:, recipient]], dim=1)[:, order]
        donor_length = (length[:, recipient] + 1).clamp(max=rules.trace_depth)
        length = torch.cat([donor_length, length[:, recipient]], dim=1)[:, order]
        world = world.update({"resources": resources.reshape(-1), "trace": trace.reshape(s * n, -1),
                              "trace_length": length.reshape(-1)})
        return world.update({"mean_resources": resources.mean(dim=1), "donated": given.sum(dim=1),
                             "punished": spent.sum(dim=1)}, table=SOCIETIES)

    def observe(self, world: World) -> dict[str, Tensor]:
        """Per society [S]: mean_resources, donated and punished (of the round just played); and generation (the
        generation of that round, 0 for the initial world)."""
        societies = world.table(SOCIETIES)
        generation = max(world.step - 1, 0) // self.rules.rounds
        return {name: societies[name] for name in ("mean_resources", "donated", "punished")} | {
            "generation": torch.tensor(generation, device=world.device)}
