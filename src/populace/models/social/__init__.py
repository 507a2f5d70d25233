"""Social media at a million users (OASIS-style): users with interests and stances, a directed follow graph, a
growing table of posts, a recommender feed, and actions by a heuristic or a language model asked per archetype."""

from populace.models.social.actions import ACT, ACTIONS, Action, HeuristicActions
from populace.models.social.encoder import HashedBagOfWords
from populace.models.social.feed import FeedSettings
from populace.models.social.graph import FollowGraph, synthetic_follows
from populace.models.social.model import SocialMedia
from populace.models.social.recommender import Recommender
from populace.models.social.users import Users, synthetic_users

__all__ = ["ACT", "ACTIONS", "Action", "FeedSettings", "FollowGraph", "HashedBagOfWords", "HeuristicActions",
           "Recommender", "SocialMedia", "Users", "synthetic_follows", "synthetic_users"]
