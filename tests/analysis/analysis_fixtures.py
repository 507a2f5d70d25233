"""The small scenario (and its parameter draws) of the shared analysis run; see conftest.py."""

import math

TINY = {
    "name": "tiny", "kind": "counterfactual", "population": {"synthetic": {"agents": 600, "seed": 2}},
    "start": "2020-03-01", "end": "2020-03-28", "model": {"initial_infected": 15, "beta_by_week": [0.35]},
    "ensemble": {"seeds": 2, "first_seed": 1, "parameter_draws": 2}, "parameters": "fitted.json",
    "policies": [{"name": "lockdown a week earlier", "lockdown": {"shift_days": -7}},
                 {"name": "stimulus", "from": "2020-03-22", "stimulus": {"job_loss_factor": 0.5}}],
}


BETA = "transmission.parametrizations.beta_by_week.original"
DRAWS = [{BETA: [math.log(0.35)], "observation.logit_ascertainment": -2.0},
         {BETA: [math.log(0.3)], "observation.logit_ascertainment": -1.5}]
"""Two parameter draws (a calibration's output): member k of the tiny run uses draw k."""
