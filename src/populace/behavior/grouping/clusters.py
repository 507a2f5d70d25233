r"""Behaviour clusters: agents grouped by how they answer, then recognised from their attributes alone.

1. **Embed**: each probed agent i is the vector of its answers to the S probe situations, e_i = Q_i [S K] (the
   option probabilities side by side).
2. **Cluster**: k-means on e (`kmeans`, k-means++ starts, seeded): k clusters of agents that answer alike.
3. **Recognise**: a decision tree (`DecisionTree`) learns each probed agent's cluster from its attributes, so any
   agent of the population gets a cluster from its attributes, with no probe of its own.
4. **Represent**: a cluster is asked through its representatives, the probed agents the tree puts in it, nearest
   their mean answer first (`members`: its medoid, then the next).

The cost: S probe questions for each probed agent, once; then, per situation, one question per representative.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from populace.behavior.grouping.attributes import AgentAttributes
from populace.behavior.grouping.groups import Groups
from populace.behavior.grouping.kmeans import kmeans
from populace.behavior.grouping.tree import DecisionTree


@dataclasses.dataclass(frozen=True)
class BehaviourClusters:
    """A fitted clustering (build it with `BehaviourClusters.fit`).

    Attributes:
        names: the attributes the tree reads, in its column order.
        centres: the k cluster centres in answer space [k, S K].
        tree: cluster from attributes.
        members: for each cluster, the positions of the probed agents the tree puts in it, nearest their mean first.
        labels: each cluster's description (the attribute levels its medoid, the nearest member, has).
    """

    names: tuple[str, ...]
    centres: Tensor
    tree: DecisionTree
    members: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...]

    @classmethod
    def fit(cls, attributes: AgentAttributes, answers: Tensor, k: int, *, seed: int = 0, n_init: int = 4,
            max_depth: int = 12, min_leaf: int = 1) -> BehaviourClusters:
        """Cluster the probed agents by their answers Q [n, S, K] into k clusters and fit the tree."""
        if answers.dim() != 3 or answers.shape[0] != attributes.n:
            raise ValueError(f"answers must be [agents, situations, options] for the {attributes.n} probed agents, "
                             f"got {list(answers.shape)}")
        embedding = answers.reshape(attributes.n, -1).to(torch.float64)
        fit = kmeans(embedding, k, seed=seed, n_init=n_init)
        tree = DecisionTree(attributes.codes, fit.assignment, attributes.n_levels, k, max_depth=max_depth,
                            min_leaf=min_leaf)
        predicted = tree.predict(attributes.codes)
        sums = torch.zeros(k, embedding.shape[1], dtype=torch.float64).index_add_(0, predicted, embedding)
        means = sums / torch.bincount(predicted, minlength=k).clamp(min=1).unsqueeze(1)
        distance = (embedding - means[predicted]).pow(2).sum(1)
        members, labels = [], []
        for c in range(k):
            rows = (predicted == c).nonzero().flatten()
            rows = rows[torch.argsort(distance[rows], stable=True)]
            members.append(tuple(rows.tolist()))
            if rows.numel():
                codes = attributes.codes[int(rows[0])]
                labels.append(", ".join(attributes.labels[j][int(codes[j])] for j in range(len(attributes.names))))
            else:
                labels.append(f"cluster {c} (no agent)")
        return cls(attributes.names, fit.centres, tree, tuple(members), tuple(labels))

    def assign(self, attributes: AgentAttributes) -> Tensor:
        """Each agent's cluster, int64 [N], from its attributes alone."""
        if attributes.names != self.names:
            raise ValueError(f"the clusters were fitted on the attributes {list(self.names)}, got "
                             f"{list(attributes.names)}")
        return self.tree.predict(attributes.codes)

    def groups(self, attributes: AgentAttributes) -> Groups:
        """The clusters as `Groups` of the agents of `attributes`."""
        return Groups("clusters", self.assign(attributes), self.labels)
