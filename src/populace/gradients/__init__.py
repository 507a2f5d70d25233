"""Gradients you can trust for stochastic, discrete simulations: unbiased stochastic derivatives
(`stochastic_derivative`), beside the straight-through surrogates of differentiable runs (`populace.sampling`)."""

from populace.gradients.stochastic import Loss, StochasticDerivative, stochastic_derivative, stochastic_gradient

__all__ = ["Loss", "StochasticDerivative", "stochastic_derivative", "stochastic_gradient"]
