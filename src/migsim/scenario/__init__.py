"""Scenarios: several migrations between hosts in one simulation (docs/scenarios.md).

``load_scenario(path)`` validates a YAML file; ``run_scenario(scenario)`` runs it;
``migsim scenario run FILE`` and ``migsim scenario validate FILE`` do both from the shell.
"""

from migsim.scenario.runner import ScenarioResult, outcome, run_scenario
from migsim.scenario.spec import Scenario, load_scenario, parse_scenario

__all__ = [
    "Scenario",
    "ScenarioResult",
    "load_scenario",
    "outcome",
    "parse_scenario",
    "run_scenario",
]
