"""Sparse contacts: CSR contact layers, named contact graphs, and the differentiable aggregation y = A x."""

from populace.network.aggregate import ContactAggregation, aggregate
from populace.network.graph import ContactGraph, ContactLayer

__all__ = ["ContactAggregation", "ContactGraph", "ContactLayer", "aggregate"]
