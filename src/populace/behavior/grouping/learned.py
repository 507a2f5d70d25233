r"""A model's archetypes learned at the start of a run: `--grouping attributes|auto|clusters` of `LLMDecisions`.

`learn_grouping(method, model, spec, agents, candidates, personas)` probes `probe_agents` agents (drawn with the
counter-based RNG), each described by its own persona (`personas`: all its attributes in words), in a few of the
decision's situation cells (`probe_cells`: by default up to 6, evenly spread over the cells), asking the decision's
own template with the persona as the description. From their answers it builds the archetype attributes of a new
`DecisionSpec` (`LearnedGrouping.spec`):

- attributes: the spec's own archetypes, unchanged (no probe);
- auto: the `candidates` that `select_attributes` chooses by held-out information gain, at most `max_cells` cells;
  each archetype is then described by its levels, as today's are;
- clusters: one attribute, the agent's behaviour cluster (`BehaviourClusters`: k-means on the probe answers, a
  decision tree from the candidates' levels), described by the persona of the cluster's medoid: every cluster is
  asked as its most typical probed member.

`LearnedGrouping.report(agents)` gives what a run writes: the method, the attributes, the probes and what they
cost, and each group's label and number of agents.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from populace.behavior.archetypes import Levels
from populace.behavior.grouping.attributes import AgentAttributes
from populace.behavior.grouping.clusters import BehaviourClusters
from populace.behavior.grouping.groups import select_attributes
from populace.behavior.llm_decisions import DESCRIPTION, DecisionSpec
from populace.core import rng
from populace.llm.protocol import LanguageModel, Query

GROUPINGS = ("attributes", "auto", "clusters")
PROBE_STREAM = "grouping/probes"
CLUSTER = "cluster"


@dataclasses.dataclass(frozen=True)
class LearnedGrouping:
    """The archetypes a run uses and how they were found.

    Attributes:
        method: one of `GROUPINGS`.
        spec: the decision spec with the learned archetype attributes.
        attributes: the attributes chosen (auto) or read by the tree (clusters); the spec's own (attributes).
        probe_agents: positions of the probed agents in the agent table (empty for attributes).
        probe_situations: the probe situations, in words.
        probe_prompts, probe_calls: the probe questions asked, and those the model answered (not the cache).
    """

    method: str
    spec: DecisionSpec
    attributes: tuple[str, ...]
    probe_agents: Tensor
    probe_situations: tuple[str, ...]
    probe_prompts: int
    probe_calls: int

    def report(self, agents: Mapping[str, Tensor]) -> dict:
        """{method, attributes, probes, probe_prompts, probe_calls, groups: [{group, label, agents}]} with the
        number of `agents` in each archetype cell present."""
        grouping = self.spec.archetypes
        n = len(next(iter(agents.values())))
        keys = grouping.keys(lambda source: source(agents) if callable(source) else agents[source], n,
                             torch.device("cpu"))
        sizes = torch.bincount(keys.long(), minlength=grouping.n_cells)
        groups = [{"group": int(c), "label": ", ".join(grouping.labels(int(c)).values()) or "everyone",
                   "agents": int(sizes[c])} for c in sizes.nonzero().flatten().tolist()]
        return {"method": self.method, "attributes": list(self.attributes),
                "probe_agents": int(self.probe_agents.numel()),
                "probe_situations": list(self.probe_situations), "probe_prompts": self.probe_prompts,
                "probe_calls": self.probe_calls, "possible_groups": grouping.n_cells, "groups_present": len(groups),
                "groups": groups}


def learn_grouping(method: str, model: LanguageModel, spec: DecisionSpec, agents: Mapping[str, Tensor],
                   candidates: Sequence[Levels], personas: Callable[[Tensor], list[str]], *,
                   probe_agents: int = 200, probe_cells: Sequence[int] | None = None, clusters: int = 16,
                   max_cells: int = 512, seed: int = 0) -> LearnedGrouping:
    """The archetypes of `method` for `spec` (see the module docstring); `personas(rows)` describes the agents at
    positions `rows` (int64), one text each."""
    if method not in GROUPINGS:
        raise ValueError(f"unknown grouping {method!r}; choose one of {', '.join(GROUPINGS)}")
    if method == "attributes":
        return LearnedGrouping(method, spec, tuple(lv.name for lv in spec.archetype), torch.zeros(0, dtype=torch.long),
                               (), 0, 0)
    if DESCRIPTION not in spec.template.fields:
        raise ValueError(f"--grouping {method} describes each agent by its persona, through the template's "
                         f"{{{DESCRIPTION}}} field; template {spec.template.name} has none (its fields: "
                         f"{', '.join(spec.template.fields)})")
    n = len(next(iter(agents.values())))
    if not 4 <= probe_agents <= n:
        raise ValueError(f"probe_agents must be between 4 and the number of agents ({n}), got {probe_agents}")
    ids = agents["id"] if "id" in agents else torch.arange(n)  # keyed on agent ids: independent of row order
    rows = torch.argsort(rng.uniform(seed, 0, PROBE_STREAM, ids, dtype=torch.float64))[:probe_agents]
    rows = rows.sort().values
    situations = spec.situations
    cells = list(probe_cells) if probe_cells is not None else _spread(situations.n_cells, 6)
    if len(cells) < 2 or any(c not in range(situations.n_cells) for c in cells):
        raise ValueError(f"probe_cells must name at least 2 situation cells in 0..{situations.n_cells - 1}, "
                         f"got {cells}")
    words = [situations.labels(c) for c in cells]
    texts = personas(rows)
    queries = [Query(spec.template.render(**_fields(spec, f"{spec.person}, {text}", labels)), spec.options,
                     spec.template.version) for text in texts for labels in words]
    answers = model.answer(queries)
    q = torch.tensor([a.probabilities for a in answers], dtype=torch.float64).reshape(len(texts), len(cells), -1)
    calls = sum(not a.cached for a in answers)
    attributes = AgentAttributes.from_levels(agents, candidates).take(rows)
    described = tuple(" ".join(labels.values()) for labels in words)
    if method == "auto":
        chosen = select_attributes(attributes, q, max_cells=max_cells, seed=seed).names
        by_name = {lv.name: lv for lv in candidates}
        archetype: tuple[Levels, ...] = tuple(by_name[name] for name in chosen)
        names = chosen
    else:
        fit = BehaviourClusters.fit(attributes, q, min(clusters, probe_agents), seed=seed)
        labels = [texts[m[0]] if m else f"cluster {c} (no agent)" for c, m in enumerate(fit.members)]
        archetype = (cluster_levels(fit, candidates, labels),)
        names = tuple(lv.name for lv in candidates)
    return LearnedGrouping(method, dataclasses.replace(spec, archetype=archetype), names, rows, described,
                           len(queries), calls)


def cluster_levels(clusters: BehaviourClusters, candidates: Sequence[Levels], labels: Sequence[str]) -> Levels:
    """The `Levels` "cluster": each agent's cluster from the candidates' levels (the tree), shown as `labels[c]`
    (repeated labels get the cluster's number)."""
    candidates = tuple(candidates)
    seen: set[str] = set()
    unique = []
    for c, label in enumerate(labels):
        unique.append(label if label not in seen else f"{label} (cluster {c})")
        seen.add(label)

    def cluster_of(agents: Mapping[str, Tensor]) -> Tensor:
        return clusters.assign(AgentAttributes.from_levels(agents, candidates)).to(torch.int32)

    reads: list[str] = []
    for lv in candidates:
        columns = (lv.source,) if isinstance(lv.source, str) else lv.reads
        if not columns:  # a function of unnamed columns: computed every step
            reads = []
            break
        reads.extend(c for c in columns if c not in reads)
    return Levels.codes(CLUSTER, cluster_of, unique, reads=reads)


def _fields(spec: DecisionSpec, description: str, situation: Mapping[str, str]) -> dict[str, str]:
    fields = {DESCRIPTION: description, **situation}
    missing = [f for f in spec.template.fields if f not in fields]
    if missing:
        raise ValueError(f"template {spec.template.name} needs the field(s) {missing}, which a persona prompt does "
                         f"not fill (it fills {DESCRIPTION!r} and the situation's)")
    return {f: fields[f] for f in spec.template.fields}


def _spread(n: int, most: int) -> list[int]:
    """min(n, most) cells evenly spread over 0..n-1, both ends included."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})
