"""Sparse contacts: CSR contact layers, named contact graphs, daily random mixing, and the differentiable
aggregation y = A x that they share (`Contacts`)."""

from populace.network.aggregate import ContactAggregation, aggregate
from populace.network.contacts import Contacts
from populace.network.graph import ContactGraph, ContactLayer
from populace.network.mixing import RandomMixing
from populace.network.random import erdos_renyi

__all__ = ["ContactAggregation", "ContactGraph", "ContactLayer", "Contacts", "RandomMixing", "aggregate",
           "erdos_renyi"]
