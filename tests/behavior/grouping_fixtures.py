"""A planted ground truth for the grouping tests: answers that depend on two of six attributes only."""

import math
import re
import zlib

import torch

from populace.behavior.grouping import AgentAttributes, GroundTruth, ask_agents
from populace.llm import Query, ScriptedModel

ATTRIBUTES = {"age": 5, "sex": 2, "borough": 5, "work": 3, "household": 4, "race": 4}
PLANTED = ("age", "work")
SITUATIONS = tuple(f"s{j}" for j in range(8))
AGE_EFFECT = (-2.0, -1.0, 0.0, 1.0, 2.0)
WORK_EFFECT = (-1.5, 0.0, 1.5)


def persona(number: int, codes: list[int]) -> str:
    """'agent 7: age=age2; sex=sex1; ...': the agent's number, then every attribute in words."""
    return f"agent {number}: " + "; ".join(f"{name}={name}{code}" for name, code in zip(ATTRIBUTES, codes,
                                                                                        strict=True))


def planted_logit(age: int, work: int, situation: int) -> float:
    """logit P(yes): the situation shifts the baseline and scales the age effect; work adds its own; the two
    interact in the last four situations."""
    scale = 0.5 + 0.25 * situation
    interaction = 0.8 * (age - 2) * (work - 1) if situation >= 4 else 0.0
    return -0.5 + 0.3 * situation - 1.0 + scale * AGE_EFFECT[age] + WORK_EFFECT[work] + interaction


def planted_answer(query: Query) -> tuple[float, float]:
    """Reads age, work and the situation from the prompt; adds an idiosyncratic logit of +-0.05 from the CRC-32 of
    the agent's number (so agents that share age and work differ a little, as people do, independently of their
    other attributes)."""
    age = int(re.search(r"age=age(\d)", query.prompt).group(1))
    work = int(re.search(r"work=work(\d)", query.prompt).group(1))
    situation = int(re.search(r"situation=s(\d)", query.prompt).group(1))
    person = query.prompt.split(":")[0]
    noise = 0.1 * ((zlib.crc32(person.encode()) % 1000) / 999 - 0.5)
    p = 1 / (1 + math.exp(-(planted_logit(age, work, situation) + noise)))
    return p, 1 - p


def planted_truth(n: int = 2000, *, seed: int = 3) -> tuple[GroundTruth, ScriptedModel]:
    """n agents with uniformly drawn attributes, each asked every situation by the planted scripted model."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.stack([torch.randint(levels, (n,), generator=generator) for levels in ATTRIBUTES.values()], dim=1)
    labels = tuple(tuple(f"{name}{k}" for k in range(levels)) for name, levels in ATTRIBUTES.items())
    attributes = AgentAttributes(tuple(ATTRIBUTES), codes, labels)
    model = ScriptedModel(planted_answer, model="planted")
    personas = [persona(i, row) for i, row in enumerate(codes.tolist())]
    answers = ask_agents(model, personas, SITUATIONS,
                         lambda who, where: Query(f"{who} | situation={where}", ("yes", "no"), "planted@1"))
    return GroundTruth(attributes, SITUATIONS, ("yes", "no"), answers), model
