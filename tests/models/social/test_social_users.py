"""Users and the text encoder: checks on the caller's tensors, the hashed bag of words."""

import math
import zlib

import pytest
import torch

from populace.models.social import HashedBagOfWords, Users, synthetic_users


def test_hashed_bag_of_words_by_hand():
    encoder = HashedBagOfWords(dim=16)
    vector = encoder.encode(["Cats, cats!"])[0]
    slot = zlib.crc32(b"cats") % 16
    sign = 1.0 if zlib.crc32(b"sign:cats") & 0x80000000 else -1.0
    expected = torch.zeros(16)
    expected[slot] = sign  # two counts of one word, scaled to unit length
    assert torch.equal(vector, expected)
    assert encoder.encode(["", "a b"]).norm(dim=1).tolist() == pytest.approx([0.0, 1.0])
    assert encoder.name == "hashed-bag-of-words/16 (crc32)"


def test_synthetic_users_are_unit_vectors_with_probabilities():
    users = synthetic_users(500, seed=2)
    assert users.embedding.norm(dim=1).tolist() == pytest.approx([1.0] * 500, abs=1e-5)
    assert float(users.activity.min()) >= 0.02
    assert float(users.activity.max()) <= 0.32
    assert float(users.activity.mean()) == pytest.approx(0.02 + 0.1, abs=0.02)  # 0.02 + 0.3 E[u^2]
    assert float(users.stance.abs().max()) <= 1


def test_nan_embeddings_are_refused_with_the_rows():
    users = synthetic_users(10, seed=2)
    embedding = users.embedding.clone()
    embedding[[3, 7], 1] = math.nan
    with pytest.raises(ValueError, match=r"embedding holds NaN or infinite values for 2 user\(s\), e.g. rows \[3, 7\]"):
        Users(users.interest, embedding, users.activity, users.stance, users.encoder)


def test_out_of_range_users_are_refused():
    users = synthetic_users(10, seed=2)
    with pytest.raises(ValueError, match=r"activity must be probabilities in \[0, 1\]"):
        Users(users.interest, users.embedding, users.activity + 1, users.stance, users.encoder)
    with pytest.raises(ValueError, match=r"stance must be \[N\] = \[10\]"):
        Users(users.interest, users.embedding, users.activity, users.stance[:5], users.encoder)
