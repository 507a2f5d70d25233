r"""The users of a social-media run: `Users` (interests, embedding, activity, stance), synthetic or the caller's.

Per user i: `interest` (int64, the topic code of its main interest, `populace.models.social.topics`), `embedding`
e_i (float [N, D], unit length: what it likes to read), `activity` (the probability of being active in a step) and
`stance` x_i in [-1, 1] (its opinion on the one contested question the posts take sides on).

`synthetic_users(n, seed)`: main topic c_i uniform over the topics, a second topic c'_i, e_i = unit(0.75 E[c_i] +
0.25 E[c'_i]) with E the encoder's vectors of the topics' words; activity a_i = 0.02 + 0.3 u_i^2 (mean 0.12: most
users are rarely active, a few often); stance x_i = u'_i + u''_i - 1 (triangular on [-1, 1], one mode at 0).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from populace.models.social.encoder import HashedBagOfWords
from populace.models.social.topics import TOPICS


@dataclasses.dataclass(frozen=True)
class Users:
    """Checked per-user tensors (module docstring); `encoder` names how `embedding` was made."""

    interest: Tensor
    embedding: Tensor
    activity: Tensor
    stance: Tensor
    encoder: str

    def __post_init__(self) -> None:
        n = self.interest.shape[0] if self.interest.dim() == 1 else -1
        for name in ("interest", "activity", "stance"):
            value = getattr(self, name)
            if value.dim() != 1 or value.shape[0] != n:
                raise ValueError(f"users' {name} must be [N] = [{n}], got {list(value.shape)}")
        if self.embedding.dim() != 2 or self.embedding.shape[0] != n:
            raise ValueError(f"users' embedding must be [N, D] = [{n}, D], got {list(self.embedding.shape)}")
        if self.interest.is_floating_point() or int(self.interest.min()) < 0 or \
                int(self.interest.max()) >= len(TOPICS):
            raise ValueError(f"users' interest must be topic codes 0..{len(TOPICS) - 1}")
        for name in ("embedding", "activity", "stance"):
            bad = ~torch.isfinite(getattr(self, name).float())
            if bool(bad.any()):
                rows = bad.reshape(n, -1).any(dim=1).nonzero().squeeze(1)
                raise ValueError(f"users' {name} holds NaN or infinite values for {rows.numel()} user(s), e.g. rows "
                                 f"{rows[:5].tolist()}; fix or drop those users before building the model")
        if bool(((self.activity < 0) | (self.activity > 1)).any()):
            raise ValueError("users' activity must be probabilities in [0, 1]")
        if bool(((self.stance < -1) | (self.stance > 1)).any()):
            raise ValueError("users' stance must lie in [-1, 1]")
        if bool((self.embedding.float().norm(dim=1) == 0).any()):
            raise ValueError("users' embedding has all-zero rows: every user needs a direction of interest")

    @property
    def n(self) -> int:
        return self.interest.shape[0]


def topic_vectors(encoder: HashedBagOfWords) -> Tensor:
    """float32 [T, D]: the encoder's unit vectors of each topic's label and words."""
    return encoder.encode([f"{label} {words}" for label, words in TOPICS])


def synthetic_users(n_users: int, *, seed: int, encoder: HashedBagOfWords | None = None) -> Users:
    """N synthetic users (module docstring), from a generator seeded with `seed`."""
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ValueError(f"n_users must be an int >= 1, got {n_users!r}")
    encoder = encoder or HashedBagOfWords()
    generator = torch.Generator().manual_seed(seed)
    topics = topic_vectors(encoder)
    interest = torch.randint(len(TOPICS), (n_users,), generator=generator)
    second = torch.randint(len(TOPICS), (n_users,), generator=generator)
    mix = 0.75 * topics[interest] + 0.25 * topics[second]
    embedding = mix / mix.norm(dim=1, keepdim=True)
    u = torch.rand(3, n_users, generator=generator)
    return Users(interest=interest, embedding=embedding, activity=0.02 + 0.3 * u[0] ** 2, stance=u[1] + u[2] - 1,
                 encoder=encoder.name)
