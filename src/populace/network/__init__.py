"""Sparse contacts: CSR contact layers, named contact graphs, and the differentiable aggregation y = A x."""

from populace.network.aggregate import ContactAggregation, aggregate
from populace.network.graph import ContactGraph, ContactLayer
from populace.network.random import RandomMixing, erdos_renyi

__all__ = ["ContactAggregation", "ContactGraph", "ContactLayer", "RandomMixing", "aggregate", "erdos_renyi"]
