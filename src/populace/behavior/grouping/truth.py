r"""The ground truth a grouping is measured against: every sampled agent's own answer in every situation.

`ask_agents` sends one `Query` per (agent, situation), built from the agent's persona (all its attributes in words)
and the situation, and gathers the option probabilities Q [N, S, K]; through a cached model stack
(`populace.llm.make_model`) a rerun asks nothing. `GroundTruth` holds Q with the agents' attributes, the situation
names and the options, and reads and writes itself as one long CSV (one row per agent and situation), so a study's
answers can be committed and reproduced without the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from populace.behavior.grouping.attributes import AgentAttributes
from populace.llm.protocol import LanguageModel, Query

AGENT = "agent"
SITUATION = "situation"


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """Per-agent answers Q [N, S, K] (float64, rows on the simplex) of N agents in S situations over K options.

    Attributes:
        attributes: the agents' attributes (N rows).
        situations: the S situation names, in the order of Q's second axis.
        options: the K options, in the order of Q's last axis.
        answers: Q [N, S, K].
    """

    attributes: AgentAttributes
    situations: tuple[str, ...]
    options: tuple[str, ...]
    answers: Tensor

    def __post_init__(self) -> None:
        object.__setattr__(self, "situations", tuple(self.situations))
        object.__setattr__(self, "options", tuple(self.options))
        want = (self.attributes.n, len(self.situations), len(self.options))
        if not isinstance(self.answers, Tensor) or tuple(self.answers.shape) != want:
            got = list(self.answers.shape) if isinstance(self.answers, Tensor) else type(self.answers).__name__
            raise ValueError(f"answers must be a tensor [agents, situations, options] = {list(want)}, got {got}")
        answers = self.answers.to(torch.float64)
        if not bool(((answers >= 0) & (answers <= 1)).all()) or not bool(
                torch.allclose(answers.sum(-1), torch.ones(want[:2], dtype=torch.float64), atol=1e-6)):
            raise ValueError("answers must be probabilities in [0, 1] summing to 1 over the options")
        object.__setattr__(self, "answers", answers)

    def situation_index(self, names: Sequence[str]) -> list[int]:
        """The positions of situations `names`; a `KeyError` listing the situations for an unknown one."""
        unknown = [s for s in names if s not in self.situations]
        if unknown:
            raise KeyError(f"no situation(s) {unknown} in the ground truth (it has: {', '.join(self.situations)})")
        return [self.situations.index(s) for s in names]

    def to_csv(self, path: str | Path) -> Path:
        """Write one row per (agent, situation): agent, each attribute's code, situation, p_<option> (every digit,
        so `from_csv` reads back the same numbers)."""
        n, s = self.attributes.n, len(self.situations)
        frame = pd.DataFrame({AGENT: torch.arange(n).repeat_interleave(s).numpy()})
        for j, name in enumerate(self.attributes.names):
            frame[name] = self.attributes.codes[:, j].repeat_interleave(s).numpy()
        frame[SITUATION] = list(self.situations) * n
        for k, option in enumerate(self.options):
            frame[f"p_{option}"] = self.answers[:, :, k].reshape(-1).numpy()  # every digit: a rerun matches
        path = Path(path)
        frame.to_csv(path, index=False)
        return path

    @classmethod
    def from_csv(cls, path: str | Path, labels: dict[str, Sequence[str]]) -> GroundTruth:
        """Read what `to_csv` wrote; `labels`: {attribute: its level words}, in the CSV's column order."""
        frame = pd.read_csv(path)
        options = [c.removeprefix("p_") for c in frame.columns if c.startswith("p_")]
        names = [c for c in frame.columns if c not in (AGENT, SITUATION) and not c.startswith("p_")]
        if sorted(names) != sorted(labels):
            raise ValueError(f"{path} has the attributes {names}, but labels were given for {list(labels)}")
        situations = list(dict.fromkeys(frame[SITUATION]))
        frame = frame.sort_values([AGENT, SITUATION], key=lambda c: c.map(situations.index) if c.name == SITUATION
                                  else c, kind="stable")
        n = frame[AGENT].nunique()
        if len(frame) != n * len(situations):
            raise ValueError(f"{path} must hold every agent in every situation ({n} x {len(situations)} rows), "
                             f"got {len(frame)}")
        first = frame.drop_duplicates(AGENT)
        codes = torch.tensor(first[names].to_numpy(), dtype=torch.int64)
        answers = torch.tensor(frame[[f"p_{o}" for o in options]].to_numpy(), dtype=torch.float64)
        answers = answers.reshape(n, len(situations), len(options))
        return cls(AgentAttributes(tuple(names), codes, tuple(tuple(labels[a]) for a in names)), tuple(situations),
                   tuple(options), answers)


def ask_agents(model: LanguageModel, personas: Sequence[str], situations: Sequence[str],
               query: Callable[[str, str], Query], *, batch_size: int = 64) -> Tensor:
    """Q [N, S, K] (float64): the answer of `model` to `query(persona_i, situation_s)` for every agent and situation,
    in batches of `batch_size` queries. Every query must offer the same K options."""
    queries = [query(persona, situation) for persona in personas for situation in situations]
    if not queries:
        raise ValueError("ask_agents needs at least one persona and one situation")
    options = queries[0].options
    other = next((q.options for q in queries if q.options != options), None)
    if other is not None:
        raise ValueError(f"every query must offer the same options, got {list(options)} and {list(other)}")
    rows: list[tuple[float, ...]] = []
    for start in range(0, len(queries), batch_size):
        rows.extend(a.probabilities for a in model.answer(queries[start:start + batch_size]))
    return torch.tensor(rows, dtype=torch.float64).reshape(len(personas), len(situations), len(options))
