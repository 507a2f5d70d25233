r"""`Commons`: G groups of GovSim's harvest game at once, one step a month, in fast or differentiable mode.

State. The "agents" table has G * S rows, group-major (agent (g, n) is row g * S + n, S = `rules.seats`): group,
seat (int32), persona (int64, the caller's archetype code, default 0), request and catch (float: last month's w and
c), gain (float: R_i, the units caught so far). The "groups" table has G rows: resource (h, the pool at the start
of the month), after_harvest (h(t), the pool after month t's harvest; h0 at step 0), harvest (sum_i c_i),
positive_catches and over_catches (the month's catches > 0 and > f), alive (bool: not collapsed; in differentiable
mode the float survival s).

Each month (`forward`): `view` (the `GroupView` the policy sees), `ask` (the policy's w, masked to active seats),
`ration` (catches, `populace.models.commons.rationing`), `settle` (collapse, regeneration, gains; the rules in
`populace.models.commons.rules`).

Fast mode: whole units, exact random rationing (or proportional), a collapsed group harvests no more and its pool
stays at h'. Differentiable mode: the relaxed rationing c = w min(1, h / W); collapse is soft, the survival
s <- s sigmoid((h' - collapse_below) / tau) (tau = `collapse_temperature`, units) and the month's catches count
as s c (the gain expected from a group still alive), so gradients reach the policy's parameters through the catches,
the pool and the survival.
"""

from __future__ import annotations

from enum import Enum

import torch
from torch import Tensor

from populace.core import AgentTable, Model, World
from populace.core.clock import StepLength
from populace.models.commons.policy import GroupView, HarvestPolicy
from populace.models.commons.rationing import proportional_rationing, random_rationing, relaxed_rationing
from populace.models.commons.rules import CommonsRules

GROUPS = "groups"


class Rationing(str, Enum):
    """How fast mode shares an over-demanded pool (`populace.models.commons.rationing`)."""

    RANDOM = "random"
    PROPORTIONAL = "proportional"


class Commons(Model):
    """G groups sharing one pool each, under `rules`, harvesting as `policy` asks (module docstring).

    Args:
        n_groups: G (>= 1).
        policy: any `HarvestPolicy` (an `nn.Module` policy's parameters become the model's).
        rules: the game's parameters (default: GovSim's).
        rationing: "random" (GovSim's one unit at a time) or "proportional", in fast mode.
        persona: int64 [G * S] or [G, S], an archetype code per agent (default 0).
        collapse_temperature: tau > 0 of the soft collapse in differentiable mode (units of the pool).
        min_temperature: tau >= 0 of the smooth min(1, h / W) of the relaxed rationing (0: the exact min).
        dtype: float dtype of the state (float64 for gradient checks).
    """

    def __init__(self, n_groups: int, policy: HarvestPolicy, rules: CommonsRules | None = None, *,
                 rationing: Rationing | str = Rationing.RANDOM, persona: Tensor | None = None,
                 collapse_temperature: float = 1.0, min_temperature: float = 0.0, dtype: torch.dtype = torch.float32):
        super().__init__()
        if isinstance(n_groups, bool) or not isinstance(n_groups, int) or n_groups < 1:
            raise ValueError(f"n_groups must be an int >= 1, got {n_groups!r}")
        if not isinstance(policy, HarvestPolicy):
            raise TypeError(f"policy must implement HarvestPolicy (a requests(view, world) method), got "
                            f"{type(policy).__name__}")
        try:
            self.rationing = Rationing(rationing)
        except ValueError:
            raise ValueError(f"rationing must be one of {[r.value for r in Rationing]}, got {rationing!r}") from None
        if not collapse_temperature > 0 or not min_temperature >= 0:
            raise ValueError(f"collapse_temperature must be > 0 and min_temperature >= 0, got "
                             f"{collapse_temperature} and {min_temperature}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.rules = rules or CommonsRules()
        self.n_groups = n_groups
        self.policy = policy
        self.collapse_temperature = float(collapse_temperature)
        self.min_temperature = float(min_temperature)
        self.dtype = dtype
        n_agents = n_groups * self.rules.seats
        if persona is None:
            persona = torch.zeros(n_agents, dtype=torch.int64)
        persona = torch.as_tensor(persona).reshape(-1)
        if persona.numel() != n_agents or persona.dtype.is_floating_point or persona.dtype == torch.bool:
            raise ValueError(f"persona must hold one integer code per agent ({n_groups} groups x {self.rules.seats} "
                             f"seats = {n_agents}), got {persona.dtype} with {persona.numel()} values")
        self.register_buffer("persona", persona.to(torch.int64), persistent=False)

    def extra_repr(self) -> str:
        return f"n_groups={self.n_groups}, rules={self.rules}, rationing={self.rationing.value}"

    # ---- state ------------------------------------------------------------------------------------------

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        g, s = self.n_groups, self.rules.seats
        device = self.persona.device
        seat = torch.arange(s, dtype=torch.int32, device=device).repeat(g)
        group = torch.arange(g, dtype=torch.int32, device=device).repeat_interleave(s)
        zeros = torch.zeros(g * s, dtype=self.dtype, device=device)
        agents = AgentTable({"group": group, "seat": seat, "persona": self.persona, "request": zeros,
                             "catch": zeros, "gain": zeros})
        pool = torch.full((g,), float(self.rules.initial_resource), dtype=self.dtype, device=device)
        none = torch.zeros(g, dtype=self.dtype, device=device)
        alive = torch.ones(g, dtype=self.dtype, device=device) if differentiable else torch.ones(
            g, dtype=torch.bool, device=device)
        groups = AgentTable({"resource": pool, "after_harvest": pool, "harvest": none, "positive_catches": none,
                             "over_catches": none, "alive": alive})
        return World(tables={"agents": agents, GROUPS: groups}, seed=seed, differentiable=differentiable,
                     step_length=StepLength.MONTH)

    # ---- one month --------------------------------------------------------------------------------------

    def forward(self, world: World) -> World:
        view = self.view(world)
        requests = self.ask(view, world)
        catch = self.ration(view, requests, world)
        return self.settle(world, view, requests, catch)

    def view(self, world: World) -> GroupView:
        """What the harvesters see at the start of this month."""
        groups, agents = world.table(GROUPS), world.agents
        g, s = self.n_groups, self.rules.seats
        joined = self.rules.joined(world.step, world.device).expand(g, s)
        active = joined if world.differentiable else joined & groups.alive.unsqueeze(1)
        share = self.rules.sustainable_share(groups.resource.detach(), active.sum(dim=1))
        return GroupView(month=world.step, resource=groups.resource, sustainable_share=share,
                         last_request=agents.request.reshape(g, s), last_catch=agents.catch.reshape(g, s),
                         active=active)

    def ask(self, view: GroupView, world: World) -> Tensor:
        """w [G, S]: the policy's requests, >= 0, zero on inactive seats; whole units checked in fast mode."""
        w = self.policy.requests(view, world)
        name = type(self.policy).__name__
        if not isinstance(w, Tensor) or w.shape != view.active.shape or not w.is_floating_point():
            shape = list(w.shape) if isinstance(w, Tensor) else type(w).__name__
            raise ValueError(f"{name}.requests must return a float tensor [G, S] = {list(view.active.shape)}, "
                             f"got {shape}")
        bad = ~torch.isfinite(w.detach()) | (w.detach() < 0)
        if not world.differentiable:
            bad |= w != torch.round(w)
        if bool(bad.any()):
            raise ValueError(f"{name}.requests returned {int(bad.sum())} request(s) that are not finite, >= 0 "
                             f"{'' if world.differentiable else 'and whole units '}(e.g. {w[bad][:3].tolist()}); "
                             "round or clamp them in the policy")
        return torch.where(view.active, w.to(self.dtype), torch.zeros((), dtype=self.dtype, device=w.device))

    def ration(self, view: GroupView, requests: Tensor, world: World) -> Tensor:
        """c [G, S]: what each seat gets from its group's pool."""
        if world.differentiable:
            return relaxed_rationing(view.resource, requests, temperature=self.min_temperature)
        if self.rationing is Rationing.PROPORTIONAL:
            return proportional_rationing(view.resource, requests)
        ids = world.agents.ids.reshape(requests.shape)
        return random_rationing(view.resource, requests, ids, seed=world.seed, month=world.step)

    def settle(self, world: World, view: GroupView, requests: Tensor, catch: Tensor) -> World:
        """Collapse, regeneration and gains after the catches (module docstring)."""
        groups, rules = world.table(GROUPS), self.rules
        after = view.resource - catch.sum(dim=1)
        if world.differentiable:
            counted = groups.alive.unsqueeze(1) * catch  # s c: the catch of a group still alive
            alive = groups.alive * torch.sigmoid((after - rules.collapse_below) / self.collapse_temperature)
            resource = rules.regenerate(after, whole_units=False)
        else:
            counted = catch
            alive = groups.alive & (after >= rules.collapse_below)
            resource = torch.where(alive, rules.regenerate(after, whole_units=True), after)
        taken = (catch > 0).to(self.dtype)
        over = (catch > view.sustainable_share.unsqueeze(1)).to(self.dtype)
        world = world.update({"request": requests.reshape(-1), "catch": catch.reshape(-1),
                              "gain": world.agents.gain + counted.reshape(-1)})
        return world.update({"resource": resource, "after_harvest": after, "harvest": counted.sum(dim=1),
                             "positive_catches": taken.sum(dim=1), "over_catches": over.sum(dim=1), "alive": alive},
                            table=GROUPS)

    def observe(self, world: World) -> dict[str, Tensor]:
        """Per group [G]: resource, after_harvest (h(t)), harvest, positive_catches, over_catches, alive."""
        groups = world.table(GROUPS)
        return {name: groups[name] for name in ("resource", "after_harvest", "harvest", "positive_catches",
                                                "over_catches")} | {"alive": groups.alive.to(self.dtype)}
