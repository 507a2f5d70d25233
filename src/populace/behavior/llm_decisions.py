r"""`LLMDecisions`: a `DecisionModel` that asks a language model one question per (archetype, situation) pair.

For a decision d at step t, every agent i asked (see `DecisionSpec.ask_only`) falls in the archetype cell a_i (its
levels of the archetype attributes, e.g. age band x borough x work) and the situation cell s_i (its levels of the
situation features, e.g. own symptoms x local incidence x case growth). For each distinct pair (a, s) present, the
template is rendered with a's description (`DecisionSpec.person` and its labels) and s in words and sent as one
`Query` with the decision's K options (the template's); the answer's probabilities q_{a,s} [K] go back to every
agent of the pair, shifted by a learnable logit offset per archetype and option, delta_d (an `nn.Parameter`, zero
at first, so P_i = q; the last option is the reference, with no offset):

    P_ik = softmax_k(log q_{a_i s_i k} + delta_d[a_i, k]),    delta_d[a, K - 1] = 0,

so delta_d[a, k] shifts the log-odds of option k against the last one. For a yes/no decision (K = 2) delta_d is
[A] and this is P_i0 = sigmoid(logit(q_{a_i s_i 0}) + delta_d[a_i]), P_i1 = 1 - P_i0; otherwise delta_d is
[A, K - 1]. q is clipped to [1e-6, 1 - 1e-6] (K = 2) or [1e-6, 1] before the logarithm. Calibration moves the
language model's answers through delta. Agents not asked get `DecisionSpec.p_not_asked`. Each agent's pair is an
integer key (a_i * S + s_i, or A * S if not asked); one count of the keys finds the pairs present, and P is
gathered from a [A * S + 1, K] table, with no Python loop over agents; the
loop over pairs (at most A x S, a few hundred) renders the prompts. The levels of agent columns that a run never
replaces (age, region) are computed once and kept (`archetypes.KeyCache`), so a later step only bins what changed
(employment, the situation features). The caller draws each agent's option from P with the engine's
counter-based RNG (`populace.behavior.decide`), so both execution modes make the same decisions; in differentiable
mode gradients reach delta (the situation features are binned: none through them).

Each call appends usage rows (`usage`, `usage_frame()`): step, date, decision, backend and model, agents asked,
archetypes, prompts, LLM calls (prompts answered by the model; the rest were cache hits), tokens and seconds.
Different archetype groups may use different models: `Route(attribute, labels, model)`, first match wins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own convention)
from torch import Tensor, nn

from populace.behavior.archetypes import (
    MAX_CELLS,
    Grouping,
    KeyCache,
    Levels,
    LevelValues,
    Source,
    as_tensor,
    combine_keys,
    count_keys,
    group_keys,
    mask_keys,
    take_keys,
    uses_numpy,
)
from populace.behavior.interface import DecisionError, Situation
from populace.behavior.templates import PromptTemplate
from populace.core.world import World
from populace.llm.protocol import Answer, Completion, LanguageModel, LLMError, Query, TextQuery

P_CLIP = 1e-6
DESCRIPTION = "description"


@dataclasses.dataclass(frozen=True)
class DecisionSpec:
    """How one decision is asked: the template, the archetype attributes, the situation features, who is asked.

    Attributes:
        template: the prompt; its options are the decision's, in order. It may use the fields `description`
            (person + the archetype's labels), each archetype attribute's name and each situation feature's name,
            and must show every situation feature and every archetype attribute (directly or through `description`).
        archetype: the agent attributes that make an archetype (read from agent columns or functions of them).
        situation: the situation features, binned (read from the situation first, then from agent columns).
        ask_only: {column or situation feature: required truth value}; the other agents are not asked.
        p_not_asked: the option probabilities [K] of agents who are not asked; a number p for a yes/no decision
            (K = 2) means (p, 1 - p); None: the last option for sure (for yes/no, "no"). Read back as a tuple [K].
        person: how the description begins, e.g. "a fisher on the lake" or "a New York City resident".
    """

    template: PromptTemplate
    archetype: tuple[Levels, ...]
    situation: tuple[Levels, ...]
    ask_only: Mapping[str, bool] = dataclasses.field(default_factory=dict)
    p_not_asked: float | Sequence[float] | None = None
    person: str = "a person"

    def __post_init__(self) -> None:
        object.__setattr__(self, "archetype", tuple(self.archetype))
        object.__setattr__(self, "situation", tuple(self.situation))
        object.__setattr__(self, "ask_only", dict(self.ask_only))
        arche, sit = [lv.name for lv in self.archetype], [lv.name for lv in self.situation]
        clash = sorted(set(arche) & set(sit) | ({DESCRIPTION} & set(arche + sit)))
        if clash:
            raise ValueError(f"the attribute name(s) {clash} are used twice (archetype, situation or the reserved "
                             f"{DESCRIPTION!r}); rename them")
        object.__setattr__(self, "p_not_asked", _not_asked(self.p_not_asked, self.options))
        if not (isinstance(self.person, str) and self.person.strip()):
            raise ValueError(f"person must be a non-empty description such as 'a fisher on the lake', got "
                             f"{self.person!r}")
        described = DESCRIPTION in self.template.fields
        self.template.check_fields((DESCRIPTION, *arche, *sit),
                                   required=[*sit, *([] if described else arche)])

    @property
    def options(self) -> tuple[str, ...]:
        """The decision's options, in the order of its probabilities (the template's)."""
        return self.template.options

    @functools.cached_property
    def archetypes(self) -> Grouping:
        """The archetype cells (product of the archetype attributes' levels)."""
        return Grouping(self.archetype)

    @functools.cached_property
    def situations(self) -> Grouping:
        """The situation cells (product of the situation features' levels)."""
        return Grouping(self.situation)


@dataclasses.dataclass(frozen=True)
class Route:
    """Send the prompts of archetypes whose attribute `attribute` has one of `labels` to `model`."""

    attribute: str
    labels: Collection[str]
    model: LanguageModel


@dataclasses.dataclass(frozen=True)
class Assignment:
    """The (archetype, situation) pairs of one decision step.

    Attributes:
        pairs: the distinct pair keys present, archetype * n_situations + situation, int64 [G] (ascending).
        group: each agent's position in `pairs`, int64 [N]; -1 for agents not asked.
        n_situations: the number of situation cells (to split a pair key).
    """

    pairs: Tensor
    group: Tensor
    n_situations: int

    @property
    def archetypes(self) -> Tensor:
        """The archetype cell of each pair, int64 [G]."""
        return self.pairs // self.n_situations

    @property
    def situations(self) -> Tensor:
        """The situation cell of each pair, int64 [G]."""
        return self.pairs % self.n_situations

    def counts(self) -> Tensor:
        """Agents per pair, int64 [G]."""
        asked = self.group[self.group >= 0]
        return torch.bincount(asked, minlength=self.pairs.numel())


@dataclasses.dataclass(frozen=True)
class StepUsage:
    """What one decision step cost on one backend (a row of `LLMDecisions.usage_frame()`)."""

    seed: int
    step: int
    date: dt.date | None
    decision: str
    backend: str
    model: str
    agents: int
    archetypes: int
    prompts: int
    calls: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    option_mass_mean: float


class UsageRecords:
    """What a language-model behaviour has cost so far: `StepUsage` rows (`record`), as a frame and as totals.

    Attributes:
        model: the language model asked (for the reports: backend, model name, dry run or not).
        decisions: {decision name: its options}.
        usage: the `StepUsage` rows of every call so far.
        asking: (step, decision) of the latest question sent to the models (where a failed run stopped).
        price_per_token: (prompt, completion) price of one token, for the `cost` in `usage_totals()`.
    """

    model: LanguageModel
    decisions: Mapping[str, tuple[str, ...]]

    def __init__(self, price_per_token: tuple[float, float] = (0.0, 0.0)):
        if len(price_per_token) != 2 or not all(p >= 0 for p in price_per_token):
            raise ValueError(f"price_per_token must be (prompt, completion) prices >= 0, got {price_per_token!r}")
        self.price_per_token = (float(price_per_token[0]), float(price_per_token[1]))
        self.usage: list[StepUsage] = []
        self.asking: tuple[int, str] | None = None

    def ask(self, world: World, decision: str, queries: Sequence[Query] | Sequence[TextQuery], *, agents: int,
            archetypes: int | None = None) -> list[Answer] | list[Completion]:
        """`self.model`'s answers to `queries` (`Query`s) or texts for them (`TextQuery`s), one batch, recorded as a
        usage row of `decision` for `agents` agents in `archetypes` cells (default: one a query); `asking` is set
        first, so a failed batch says where the run stopped. An `LLMError` if the model returns another count."""
        self.asking = (world.step, decision)
        queries = list(queries)
        started = time.perf_counter()
        texts = bool(queries) and isinstance(queries[0], TextQuery)
        if not queries:
            got: list = []
        elif texts:
            got = self.model.complete(queries)  # type: ignore[attr-defined]
        else:
            got = self.model.answer(queries)
        if len(got) != len(queries):
            raise LLMError(f"{self.model.backend} model {self.model.model!r} returned {len(got)} "
                           f"{'texts' if texts else 'answers'} for {len(queries)} queries")
        self.record(world, decision, self.model, got, time.perf_counter() - started, agents=agents,
                    archetypes=len(queries) if archetypes is None else archetypes)
        return got

    def record(self, world: World, decision: str, model: LanguageModel, answers: Sequence[Answer | Completion],
               seconds: float, *, agents: int, archetypes: int) -> None:
        """Append the usage row of one batch of `answers` (or written texts, `Completion`s: no option mass) from
        `model` at the world's step."""
        fresh = [a for a in answers if not a.cached]
        masses = [a.option_mass for a in answers if isinstance(a, Answer)]
        self.usage.append(StepUsage(
            seed=world.seed, step=world.step, date=world.date, decision=decision, backend=model.backend,
            model=model.model, agents=agents, archetypes=archetypes, prompts=len(answers), calls=len(fresh),
            cache_hits=len(answers) - len(fresh), prompt_tokens=sum(a.prompt_tokens for a in fresh),
            completion_tokens=sum(a.completion_tokens for a in fresh), seconds=seconds,
            option_mass_mean=sum(masses) / len(masses) if masses else math.nan))

    def usage_frame(self) -> pd.DataFrame:
        """One row per decision step and backend (`StepUsage` fields)."""
        columns = [f.name for f in dataclasses.fields(StepUsage)]
        return pd.DataFrame([dataclasses.asdict(u) for u in self.usage], columns=columns)

    def usage_totals(self) -> dict[str, float]:
        """Totals over the run: decision steps (of every seed), prompts, calls, cache hits, tokens, cost
        (`price_per_token`), seconds in the models."""
        frame = self.usage_frame()
        totals = {name: int(frame[name].sum()) for name in ("prompts", "calls", "cache_hits", "prompt_tokens",
                                                            "completion_tokens")}
        cost = (totals["prompt_tokens"] * self.price_per_token[0]
                + totals["completion_tokens"] * self.price_per_token[1])
        return {"decision_steps": int(frame[["seed", "step", "decision"]].drop_duplicates().shape[0]), **totals,
                "cost": cost, "seconds": float(frame["seconds"].sum())}


class LLMDecisions(UsageRecords, nn.Module):
    """Decisions from a language model asked per archetype and situation (see the module docstring).

    Args:
        model: the language model for every archetype no route claims.
        decisions: {decision name: DecisionSpec}: what is asked, of whom, with which options and persona (e.g.
            `populace.models.covid_nyc.archetypes.covid_decisions()`).
        routes: `Route`s sending some archetypes' prompts to other models; the first match wins.
        price_per_token: (prompt, completion) price of one token, for the `cost` in `usage_totals()`.

    Attributes:
        decisions: {decision name: its options} (the `DecisionModel` protocol).
        logit_offset: {decision: delta}, learnable logit offsets per archetype cell (zeros at first): [A] for a
            yes/no decision, [A, K - 1] for K > 2 options (see the module docstring).
        usage: the `StepUsage` rows of every call so far.
        asking: (step, decision) of the latest question sent to the models (where a failed run stopped).
    """

    def __init__(self, model: LanguageModel, decisions: Mapping[str, DecisionSpec], *, routes: Sequence[Route] = (),
                 price_per_token: tuple[float, float] = (0.0, 0.0)):
        nn.Module.__init__(self)
        UsageRecords.__init__(self, price_per_token)
        if not isinstance(model, LanguageModel):
            raise TypeError(f"model must be a populace.llm LanguageModel (backend, model, settings(), answer()), got "
                            f"{type(model).__name__}; e.g. populace.llm.make_model('embedded')")
        if not isinstance(decisions, Mapping) or not decisions:
            raise ValueError(f"LLMDecisions needs a mapping of decision name -> DecisionSpec with at least one entry, "
                             f"got {decisions!r}")
        specs = dict(decisions)
        for name, spec in specs.items():
            if not isinstance(spec, DecisionSpec):
                raise TypeError(f"decision {name!r} must be a DecisionSpec, got {type(spec).__name__}")
        object.__setattr__(self, "model", model)  # never a submodule: a backend's weights are not calibrated here
        self.specs = specs
        self.decisions = {name: spec.options for name, spec in specs.items()}
        self.routes = tuple(_check_route(route, specs) for route in routes)
        self.logit_offset = nn.ParameterDict({
            name: nn.Parameter(torch.zeros(_offset_shape(spec))) for name, spec in specs.items()})
        self._queries: dict[tuple[str, int], tuple[Query, LanguageModel]] = {}
        self._key_cache = KeyCache()  # levels of unchanged agent columns (age, region) from earlier steps

    def extra_repr(self) -> str:
        parts = [f"{name}: {spec.archetypes} x {spec.situations}" for name, spec in self.specs.items()]
        return f"model={self.model.backend}:{self.model.model}, routes={len(self.routes)}, " + "; ".join(parts)

    def spec(self, decision: str) -> DecisionSpec:
        try:
            return self.specs[decision]
        except KeyError:
            raise DecisionError(f"LLMDecisions makes no decision {decision!r} (it makes: "
                                f"{', '.join(self.decisions)})") from None

    def assign(self, decision: str, world: World, situation: Situation) -> Assignment:
        """The distinct (archetype, situation) pairs among the agents asked, and each agent's pair."""
        spec = self.spec(decision)
        keys, n_pairs = self.pair_keys(decision, world, situation)
        a = world.agents
        pairs, group = group_keys(as_tensor(keys, a.n, a.device, torch.int64), n_pairs + 1)
        if pairs.numel() and int(pairs[-1]) == n_pairs:  # the agents not asked: dropped from the pairs
            pairs = pairs[:-1]
            group = torch.where(group == pairs.numel(), -1, group)
        return Assignment(pairs, group, spec.situations.n_cells)

    def pair_keys(self, decision: str, world: World, situation: Situation) -> tuple[LevelValues, int]:
        """(keys, P): each agent's pair key archetype * n_situations + situation, P (= the number of pairs) for
        the agents not asked, as `LevelValues` (NumPy on the CPU)."""
        spec = self.spec(decision)
        a = world.agents

        def read(source: Source) -> Tensor:
            return _read(source, a, situation, decision)

        arche, sit = spec.archetypes, spec.situations
        n_pairs = arche.n_cells * sit.n_cells
        if n_pairs >= MAX_CELLS:
            raise ValueError(f"decision {decision!r} has {arche.n_cells:,} archetypes x {sit.n_cells:,} situations, "
                             f"more pairs than int32 keys hold; use fewer levels")
        keys = combine_keys(self._keys(arche, world, situation, read), self._keys(sit, world, situation, read),
                            sit.n_cells, n_pairs + 1)
        asked = None
        for name, wanted in spec.ask_only.items():
            ok = _truth(read(name))
            ok = ok if wanted else ~ok
            asked = ok if asked is None else asked & ok  # never in place: ok may be the column itself
        if asked is not None:
            keys = mask_keys(keys, asked, n_pairs)
        return keys, n_pairs

    def _keys(self, grouping: Grouping, world: World, situation: Situation,
              read: Callable[[Source], Tensor]) -> LevelValues:
        """The cells of `grouping`; the levels of agent columns (and the cells, when all its attributes read
        them) come from the cache while those columns are unchanged."""
        inputs = [_inputs(lv, world.agents, situation) for lv in grouping.levels]
        static = all(i is not None for i in inputs)
        every_input = tuple(t for i in inputs if i is not None for t in i)
        if static:
            cached = self._key_cache.get(("keys", grouping.levels), every_input)
            if cached is not None:
                return cached
        levels = []
        for lv, lv_inputs in zip(grouping.levels, inputs, strict=True):
            level = None if lv_inputs is None else self._key_cache.get(("levels", lv), lv_inputs)
            if level is None:
                level = lv.level_values(read(lv.source))
                if lv_inputs is not None:
                    self._key_cache.put(("levels", lv), lv_inputs, level)
            levels.append(level)
        keys = grouping.key_values(levels)
        if static:
            self._key_cache.put(("keys", grouping.levels), every_input, keys)
        return keys

    def prompt(self, decision: str, pair: int) -> str:
        """The rendered prompt of a pair key (archetype * n_situations + situation)."""
        return self._query_and_model(decision, pair)[0].prompt

    def probabilities(self, decision: str, world: World, situation: Situation) -> Tensor:
        """P [N, K]: the archetype-and-situation answer of each agent, shifted by its archetype's offsets delta.

        One pass per attribute not cached (`pair_keys`), one count of the pair keys (`answer_table`), one gather of
        P from the [pairs + 1, K] table.
        """
        keys, _ = self.pair_keys(decision, world, situation)
        return take_keys(self.answer_table(decision, world, keys)[0], keys, world.agents.n)  # [N, K]

    def answer_table(self, decision: str, world: World, keys: LevelValues) -> tuple[Tensor, Tensor]:
        """(table [P + 1, K], rows): row p of the table is the shifted answer of pair key p for the pairs among
        `keys` (each agent's pair key, as `pair_keys` gives them; P for the agents not asked), asked of the
        language models (one usage row per model), and `p_not_asked` for the other pairs and in the last row;
        rows (int64, ascending) are the rows `keys` hold. P = table[keys] is `probabilities`."""
        spec = self.spec(decision)
        n_pairs = spec.archetypes.n_cells * spec.situations.n_cells
        counts = count_keys(keys, n_pairs + 1, world.agents.n)  # [P + 1]
        pairs = counts[:n_pairs].nonzero().squeeze(1)  # [G], ascending
        q = self._ask(decision, pairs.tolist(), world, counts=counts[pairs].tolist())  # [G, K] float64
        offset = self.logit_offset[decision]  # [A] or [A, K - 1]
        archetypes = pairs.to(offset.device) // spec.situations.n_cells
        p_pair = shifted_answers(q.to(offset.dtype), offset[archetypes])  # [G, K]
        table = torch.tensor(spec.p_not_asked, dtype=p_pair.dtype, device=p_pair.device).repeat(n_pairs + 1, 1)
        table = table.index_put((pairs.to(p_pair.device),), p_pair)  # [P + 1, K]
        rows = pairs if int(counts[n_pairs]) == 0 else torch.cat([pairs, pairs.new_tensor([n_pairs])])
        return table, rows

    # ---- asking the language models -------------------------------------------------------------------

    def _query_and_model(self, decision: str, pair: int) -> tuple[Query, LanguageModel]:
        """The query of a pair key and the model it goes to, rendered once per run."""
        cached = self._queries.get((decision, pair))
        if cached is not None:
            return cached
        spec = self.spec(decision)
        n_sit = spec.situations.n_cells
        arche_labels = spec.archetypes.labels(pair // n_sit)
        fields = {DESCRIPTION: ", ".join([spec.person, *arche_labels.values()]), **arche_labels,
                  **spec.situations.labels(pair % n_sit)}
        prompt = spec.template.render(**{f: fields[f] for f in spec.template.fields})
        model = next((r.model for r in self.routes if arche_labels.get(r.attribute) in r.labels), self.model)
        query = Query(prompt, spec.template.options, spec.template.version)
        self._queries[(decision, pair)] = query, model
        return query, model

    def _ask(self, decision: str, pairs: list[int], world: World, counts: list[int]) -> Tensor:
        """q [G, K] (float64): the option probabilities of each pair, one batch per model."""
        spec = self.spec(decision)
        self.asking = (world.step, decision)
        batches: dict[int, tuple[LanguageModel, list[int], list[Query]]] = {}
        for g, pair in enumerate(pairs):
            query, model = self._query_and_model(decision, pair)
            entry = batches.setdefault(id(model), (model, [], []))
            entry[1].append(g)
            entry[2].append(query)
        q = torch.empty(len(pairs), len(spec.options), dtype=torch.float64)
        if not batches:
            batches[id(self.model)] = (self.model, [], [])
        n_sit = spec.situations.n_cells
        for model, positions, queries in batches.values():
            started = time.perf_counter()
            answers = model.answer(queries) if queries else []
            seconds = time.perf_counter() - started
            if len(answers) != len(queries):
                raise DecisionError(f"{model.backend} model {model.model!r} gave {len(answers)} answers to "
                                    f"{len(queries)} queries")
            if answers:
                q[positions] = torch.tensor([a.probabilities for a in answers], dtype=torch.float64)
            self.record(world, decision, model, answers, seconds, agents=sum(counts[g] for g in positions),
                        archetypes=len({pairs[g] // n_sit for g in positions}))
        return q.to(world.device)


def shifted_answers(q: Tensor, offset: Tensor) -> Tensor:
    """P [G, K] from the answers q [G, K] and the offsets delta [G] (K = 2) or [G, K - 1] (see the module docstring):
    K = 2: P_0 = sigmoid(logit(clip q_0) + delta), P_1 = 1 - P_0; else softmax(log(clip q) + (delta, 0))."""
    if q.shape[-1] == 2:
        p_first = torch.sigmoid(torch.logit(q[:, 0].clamp(P_CLIP, 1 - P_CLIP)) + offset)  # [G]
        return torch.stack([p_first, 1 - p_first], dim=-1)
    logits = torch.log(q.clamp(min=P_CLIP)) + F.pad(offset, (0, 1))  # [G, K]: the last option has no offset
    return torch.softmax(logits, dim=-1)


def _offset_shape(spec: DecisionSpec) -> tuple[int, ...]:
    """[A] for a yes/no decision, [A, K - 1] for K > 2 options."""
    k = len(spec.options)
    return (spec.archetypes.n_cells,) if k == 2 else (spec.archetypes.n_cells, k - 1)


def _not_asked(p: float | Sequence[float] | None, options: tuple[str, ...]) -> tuple[float, ...]:
    """`DecisionSpec.p_not_asked` as K probabilities."""
    k = len(options)
    if p is None:
        return (0.0,) * (k - 1) + (1.0,)
    if isinstance(p, (int, float)):
        if k != 2:
            raise ValueError(f"p_not_asked must be {k} probabilities, one per option of {list(options)}, got {p!r} "
                             "(a single number is the first option's probability of a two-option decision)")
        if not 0 <= p <= 1:
            raise ValueError(f"p_not_asked must be a probability in [0, 1], got {p!r}")
        return float(p), 1 - float(p)
    values = tuple(float(x) for x in p)
    if len(values) != k or not all(0 <= x <= 1 for x in values) or abs(sum(values) - 1) > 1e-9:
        raise ValueError(f"p_not_asked must be {k} probabilities in [0, 1] summing to 1, one per option of "
                         f"{list(options)}, got {p!r}")
    return values


def _read(source: Source, agents: Mapping[str, Tensor], situation: Situation, decision: str) -> Tensor:
    if callable(source):
        return source(agents)
    if source in situation:
        return situation[source]
    if source in agents:
        return agents[source]
    raise KeyError(f"the decision {decision!r} reads {source!r}, which is neither a situation feature (given: "
                   f"{', '.join(situation) or 'none'}) nor an agent column (they are: {', '.join(agents)})")


def _inputs(lv: Levels, agents: Mapping[str, Tensor], situation: Situation) -> tuple[Tensor, ...] | None:
    """The agent columns the levels of `lv` are computed from; None when they may differ at every step (a
    situation feature, or a function that names no columns)."""
    names = lv.reads if callable(lv.source) else () if lv.source in situation else (lv.source,)
    if not names or any(name not in agents for name in names):
        return None
    return tuple(agents[name] for name in names)


def _truth(values: Tensor) -> np.ndarray | Tensor:
    """values as bool [N] (floats: > 0.5), a NumPy array on the CPU (may be the column itself: read-only)."""
    values = values.detach()
    if uses_numpy(values):
        x = (values.float() if values.dtype == torch.bfloat16 else values).numpy()
        return x > 0.5 if x.dtype.kind == "f" else x.astype(bool, copy=False)
    return values > 0.5 if values.is_floating_point() else values.bool()


def _check_route(route: Route, specs: Mapping[str, DecisionSpec]) -> Route:
    if not isinstance(route, Route):
        raise TypeError(f"routes must be Route(attribute, labels, model), got {type(route).__name__}")
    if not isinstance(route.model, LanguageModel):
        raise TypeError(f"the model of the route on {route.attribute!r} is not a LanguageModel, got "
                        f"{type(route.model).__name__}")
    known = {lv.name: lv.labels for spec in specs.values() for lv in spec.archetype}
    if route.attribute not in known:
        raise ValueError(f"a route names the archetype attribute {route.attribute!r}, which no decision has (they "
                         f"have: {', '.join(known)})")
    labels = [route.labels] if isinstance(route.labels, str) else list(route.labels)
    unknown = [label for label in labels if label not in known[route.attribute]]
    if unknown:
        raise ValueError(f"a route on {route.attribute!r} names the label(s) {unknown}, which it does not have (its "
                         f"labels: {list(known[route.attribute])})")
    return dataclasses.replace(route, labels=frozenset(labels))
