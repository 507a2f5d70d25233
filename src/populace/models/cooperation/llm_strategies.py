r"""Language-model strategies for the donor game: agents write strategy texts, donations are asked of the model.

`LLMDonors` is a `DonorPolicy` (`populace.models.cooperation.policy`):

- **Writing.** Generation 0 draws from `len(PERSONAS)` strategies, each written by the model from the rules and a
  persona ("Write your strategy ... starting with 'My strategy will be'"). When a generation ends, every newcomer
  writes its own from what it inherited: per archetype, from its parent's text and its persona; per agent, from all
  the survivors' texts of its society and its persona. Texts go into a `StrategyBook`: identical texts are one
  strategy, and past `max_strategies` a new text joins the nearest existing one (cosine of hashed word counts), so
  the strategies, and the calls that ask about them, stay bounded however many societies are run. An empty text
  keeps the parent's strategy (counted in `fallbacks`).
- **Donating.** A donor answers one of `DONATION_OPTIONS` (fractions 0, 1/4, 1/2, 3/4, 1 of its resources; with
  punishment also "punish": spend 1/2 to take twice as much). Per archetype (`per_agent=False`), the model is asked
  once per (strategy, recipient's trace bucket) present, the bucket being what the recipient gave last and what its
  own recipient had given before (`trace_levels` entries, each one of the options or "not yet"); per agent, once per
  donor, with its resources and the recipient's whole trace. Every donor draws its option by inverse CDF on the
  counter-based uniforms of (seed, round, `DONATION_STREAM`, agent), so the two modes draw the same option
  wherever their probabilities agree.

Prompts and texts go through the model's cache and budget (`populace.llm.make_model`), and every batch is a usage
row (`UsageRecords`). Fast mode only.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter

import torch
from torch import Tensor

from populace.behavior.llm_decisions import UsageRecords
from populace.core.world import World
from populace.llm.protocol import LanguageModel, Query, TextQuery, require_text_model
from populace.models.cooperation.policy import DonorView
from populace.models.cooperation.rules import DonorGameRules

DONATION_OPTIONS = ("nothing", "quarter", "half", "most", "all")
FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
PUNISH, PUNISH_FRACTION = "punish", -0.5
DONATION_STREAM = "cooperation-llm-donation"
PERSONAS = ("You care most about your own resources.", "You believe that helping others pays off.",
            "You give to those who give and are wary of those who do not.", "You do what the others seem to do.")
"""Generation 0 draws from one written strategy per persona; newcomer of seat i writes with persona i mod 4."""
DEFAULT_STRATEGY = "My strategy will be to give half of my resources to everyone."
"""Generation 0's text for a persona whose strategy the model left empty."""
NOT_YET = "had not been a donor yet"
TEMPLATE_VERSION = "cooperation@1"
STRATEGY_OPENING = "My strategy will be"
MAX_STRATEGY_CHARACTERS = 400


class StrategyBook:
    """Strategy texts by id: identical texts (ignoring case and spaces) share an id; past `max_strategies` a new
    text gets the id of the nearest existing text (cosine of hashed word counts)."""

    def __init__(self, max_strategies: int = 64):
        if isinstance(max_strategies, bool) or not isinstance(max_strategies, int) or max_strategies < 1:
            raise ValueError(f"max_strategies must be an int >= 1, got {max_strategies!r}")
        self.max_strategies = max_strategies
        self.texts: list[str] = []
        self._ids: dict[str, int] = {}
        self._vectors: list[Counter[int]] = []
        self.merged = 0

    def __len__(self) -> int:
        return len(self.texts)

    def seed(self, texts: list[str]) -> None:
        """Start the book with `texts` as ids 0..len-1, one each even when two are the same (generation 0's)."""
        if self.texts:
            raise ValueError("a StrategyBook is seeded once, before any text is added")
        for text in texts:
            key = _key(text)
            self._ids.setdefault(key, len(self.texts))
            self.texts.append(text)
            self._vectors.append(_word_vector(key))

    def add(self, text: str) -> int:
        """The id of `text`: its own, a new one, or (the book full) the nearest text's."""
        key = _key(text)
        if key in self._ids:
            return self._ids[key]
        vector = _word_vector(key)
        if len(self.texts) >= self.max_strategies:
            self.merged += 1
            return max(range(len(self.texts)), key=lambda i: _cosine(vector, self._vectors[i]))
        self._ids[key] = len(self.texts)
        self.texts.append(text)
        self._vectors.append(vector)
        return self._ids[key]


class LLMDonors(UsageRecords):
    """Language-model strategies (module docstring).

    Args:
        model: a language model that can also write (`populace.llm.make_model(...)`: cached and metered).
        rules: the game (multiplier, punishment, trace depth).
        per_agent: ask once per donor (the 12-agent mode) instead of once per (strategy, trace bucket).
        trace_levels: entries of the recipient's trace an archetype distinguishes (1..rules.trace_depth).
        max_strategies: the size of the `StrategyBook`.
        price_per_token: (prompt, completion) US dollars per token, for the usage report.

    Attributes:
        book: the strategy texts; fallbacks: strategies the model left empty (generation 0's take
            `DEFAULT_STRATEGY`, newcomers keep their parent's).
    """

    def __init__(self, model: LanguageModel, rules: DonorGameRules, *, per_agent: bool = False,
                 trace_levels: int = 2, max_strategies: int = 64,
                 price_per_token: tuple[float, float] = (0.0, 0.0)):
        super().__init__(price_per_token)
        require_text_model(model)
        if isinstance(trace_levels, bool) or not isinstance(trace_levels, int) or not (
                1 <= trace_levels <= rules.trace_depth):
            raise ValueError(f"trace_levels must be an int in 1..{rules.trace_depth} (the trace depth), got "
                             f"{trace_levels!r}")
        self.model = model
        self.rules = rules
        self.per_agent = per_agent
        self.trace_levels = trace_levels
        self.book = StrategyBook(max_strategies)
        self.options = (*DONATION_OPTIONS, PUNISH) if rules.punishment else DONATION_OPTIONS
        self.values = torch.tensor((*FRACTIONS, PUNISH_FRACTION) if rules.punishment else FRACTIONS)
        self.decisions = {"donate": self.options, "write": ("text",)}
        self.fallbacks = 0

    @property
    def n_strategies(self) -> int:
        return len(PERSONAS)

    # ---- writing ----------------------------------------------------------------------------------------

    def _write(self, prompts: list[str], world: World, *, agents: int | None = None) -> list[str]:
        """The texts the model writes for `prompts` ("" where it wrote nothing); a prompt repeated is asked once.
        `agents`: the agents the texts are for (default: one a prompt), for the usage row."""
        unique = list(dict.fromkeys(prompts))
        queries = [TextQuery(p, max_tokens=80, stop=("\n\n",), template_version=TEMPLATE_VERSION) for p in unique]
        done = self.ask(world, "write", queries, agents=len(prompts) if agents is None else agents)
        written = {p: _strategy_text(c.text) for p, c in zip(unique, done, strict=True)}
        return [written[p] for p in prompts]

    def _ensure_initial(self, world: World) -> None:
        """Generation 0's strategies, one per persona (ids 0..3), written on first use."""
        if len(self.book):
            return
        texts = self._write([self._write_prompt(persona, None) for persona in PERSONAS], world)
        self.fallbacks += sum(not text for text in texts)
        self.book.seed([text or DEFAULT_STRATEGY for text in texts])

    def inherit(self, strategy: Tensor, survives: Tensor, world: World) -> Tensor:
        if self.per_agent:
            return self._inherit_per_agent(strategy, survives, world)
        # per archetype: one text per distinct (parent strategy, persona) among the newcomers
        personas = len(PERSONAS)
        seat_persona = torch.arange(strategy.shape[1], device=strategy.device) % personas
        keys = strategy * personas + seat_persona  # [S, n]
        newcomer = ~survives
        cells, inverse = torch.unique(keys[newcomer], return_inverse=True)
        parents = (cells // personas).tolist()
        prompts = [self._write_prompt(PERSONAS[int(c) % personas], [self.book.texts[parent]])
                   for c, parent in zip(cells.tolist(), parents, strict=True)]
        if not prompts:
            return strategy
        texts = self._write(prompts, world, agents=int(newcomer.sum()))
        ids = torch.tensor([self.book.add(text) if text else parent for text, parent in
                            zip(texts, parents, strict=True)], dtype=strategy.dtype)
        empty = torch.tensor([not text for text in texts])
        self.fallbacks += int(torch.bincount(inverse, minlength=len(cells))[empty].sum())  # newcomers who kept theirs
        strategy = strategy.clone()
        strategy[newcomer] = ids[inverse]
        return strategy

    def _inherit_per_agent(self, strategy: Tensor, survives: Tensor, world: World) -> Tensor:
        """Every newcomer writes from all its society's survivors' texts (and its persona)."""
        newcomers = (~survives).nonzero().tolist()
        prompts, parents = [], []
        for society, seat in newcomers:
            elders = sorted({int(i) for i in strategy[society][survives[society]]})
            prompts.append(self._write_prompt(PERSONAS[seat % len(PERSONAS)], [self.book.texts[i] for i in elders]))
            parents.append(int(strategy[society, seat]))
        strategy = strategy.clone()
        for (society, seat), parent, text in zip(newcomers, parents, self._write(prompts, world) if prompts else [],
                                                 strict=True):
            self.fallbacks += not text
            strategy[society, seat] = self.book.add(text) if text else parent
        return strategy

    # ---- donating ---------------------------------------------------------------------------------------

    def fractions(self, view: DonorView, world: World) -> Tensor:
        if world.differentiable:
            raise ValueError("language-model strategies run in fast mode only (answers are not differentiable)")
        self._ensure_initial(world)
        strategy = view.donor_strategy
        s, h = strategy.shape
        if self.per_agent:
            prompts = [self._donate_prompt(int(strategy[i, j]), self._trace_words(view, i, j, self.rules.trace_depth),
                                           resources=float(view.donor_resources[i, j]))
                       for i in range(s) for j in range(h)]
            probs = self._ask(prompts, world, agents=s * h).reshape(s, h, -1)
        else:
            bucket = self._buckets(view)  # [S, h]
            n_buckets = (len(self.options) + 1) ** self.trace_levels
            keys = strategy * n_buckets + bucket
            cells, inverse = torch.unique(keys, return_inverse=True)
            prompts = [self._donate_prompt(int(c) // n_buckets, self._bucket_words(int(c) % n_buckets))
                       for c in cells.tolist()]
            probs = self._ask(prompts, world, agents=s * h)[inverse]  # [S, h, K]
        u = world.uniform(DONATION_STREAM, dtype=torch.float64).reshape(s, -1)[:, view.donor_seats]
        cdf = probs.cumsum(-1)
        choice = (u.unsqueeze(-1) >= cdf[..., :-1]).sum(-1)
        return self.values.to(view.donor_resources.dtype)[choice]

    def _ask(self, prompts: list[str], world: World, *, agents: int) -> Tensor:
        """[len(prompts), K] float64: each prompt's option probabilities (one batch through the cache)."""
        answers = self.ask(world, "donate", [Query(p, self.options, TEMPLATE_VERSION) for p in prompts],
                           agents=agents)
        return torch.tensor([a.probabilities for a in answers], dtype=torch.float64)

    def _codes(self, trace: Tensor, history: Tensor, levels: int) -> Tensor:
        """[..., levels] int64: the code of each of the first `levels` entries of traces [..., D] with `history`
        [...] valid entries: 0 for "not yet", 1 + the option nearest the entry otherwise."""
        entries = trace[..., :levels]
        nearest = (entries.unsqueeze(-1) - self.values.to(entries.dtype)).abs().argmin(-1)
        valid = torch.arange(levels, device=entries.device) < history.long().unsqueeze(-1)
        return torch.where(valid, nearest + 1, torch.zeros_like(nearest))

    def _buckets(self, view: DonorView) -> Tensor:
        """[S, h]: the trace bucket of each donor's recipient, sum_l c_l (K + 1)^l over the `_codes` c of its first
        `trace_levels` entries."""
        codes = self._codes(view.recipient_trace, view.recipient_history, self.trace_levels)  # [S, h, L]
        weights = (len(self.options) + 1) ** torch.arange(self.trace_levels, device=codes.device)
        return (codes * weights).sum(-1)

    # ---- words ------------------------------------------------------------------------------------------

    def _rules_words(self) -> str:
        punish = (" A donor may instead punish: spend part of its resources to take twice as much from the "
                  "recipient." if self.rules.punishment else "")
        return (f"You are playing a game in a society of {self.rules.agents_per_society} players. Each round a donor "
                f"may give part of its resources to a recipient, who receives {self.rules.multiplier:g} times what is "
                f"given.{punish} Donors see what their recipient did as a donor before. After "
                f"{self.rules.rounds} rounds, the richest half of the society stays and the others are replaced "
                f"by newcomers who learn from them.")

    def _write_prompt(self, persona: str, elders: list[str] | None) -> str:
        learned = "" if elders is None else (" The strategies of players who did well: " + " ".join(
            f'"{text}"' for text in elders))
        return (f"{self._rules_words()} {persona}{learned}\nWrite your strategy for this game in one or two "
                f"sentences, starting with '{STRATEGY_OPENING}'.")

    def _donate_prompt(self, strategy: int, recipient: str, resources: float | None = None) -> str:
        own = "" if resources is None else f" You have {resources:.1f} resources."
        choices = ", ".join(f"{word} ({value:.0%})" if value >= 0 else f"{word} (spend 50% to take twice as much)"
                            for word, value in zip(self.options, self.values.tolist(), strict=True))
        return (f"{self._rules_words()} Your strategy: \"{self.book.texts[strategy]}\"{own} {recipient}\n"
                f"How much of your resources do you give this round? Answer with one word: {choices}.")

    def _entry_words(self, code: int) -> str:
        """A trace entry's code (0: not yet; 1 + option) in words."""
        if code == 0:
            return NOT_YET
        option = code - 1
        if self.options[option] == PUNISH:
            return "punished its recipient"
        return f"gave {FRACTIONS[option]:.0%} of its resources"

    def _bucket_words(self, bucket: int) -> str:
        base = len(self.options) + 1
        codes = [(bucket // base**level) % base for level in range(self.trace_levels)]
        return _trace_sentence([self._entry_words(c) for c in codes])

    def _trace_words(self, view: DonorView, i: int, j: int, depth: int) -> str:
        codes = self._codes(view.recipient_trace[i, j], view.recipient_history[i, j], depth).tolist()
        return _trace_sentence([self._entry_words(c) for c in codes])

def _trace_sentence(parts: list[str]) -> str:
    """"Your recipient gave 50% of its resources last time; before that, the player it met ..." up to the first
    entry that is "not yet"."""
    sentence = f"Your recipient {parts[0]}"
    for before, part in itertools.pairwise(parts):
        if before == NOT_YET:
            break
        sentence += f"; before that, the player it met {part}"
    return sentence + "."


def _strategy_text(text: str) -> str:
    """The written strategy, trimmed to `MAX_STRATEGY_CHARACTERS` ("" when nothing was written)."""
    text = " ".join(text.split()).strip(" \"'")
    return text[:MAX_STRATEGY_CHARACTERS]


def _key(text: str) -> str:
    """`text` in lower case with its spaces collapsed: texts with the same key are one strategy."""
    return " ".join(text.lower().split())


def _word_vector(text: str) -> Counter[int]:
    """Hashed word counts of `text` (2^16 buckets, stable across runs)."""
    words = re.findall(r"[a-z0-9%]+", text)
    return Counter(int.from_bytes(hashlib.blake2b(w.encode(), digest_size=2).digest(), "big") for w in words)


def _cosine(a: Counter[int], b: Counter[int]) -> float:
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0
