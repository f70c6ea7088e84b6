"""Headless mode: ``mlops-tui --script FILE`` runs steps through the action layer, no UI.

A script is YAML::

    context: staging            # optional; --context wins
    namespace: demo             # optional; -n wins
    prometheus: http://prom:9090  # or a mapping like the config file's prometheus section
    vars: {replicas: "2"}       # ${replicas}; the environment overrides vars
    steps:
      - name: scale the app     # optional
        scale: {kind: deployment, name: web, replicas: "${replicas}"}
        timeout: 2m             # optional, default 10m
        continue_on_error: false

Each step has exactly one action key (a name in ``mlops_tui.backends.actions.ACTIONS``);
its value is that action's request. See :mod:`.loader` (validation), :mod:`.variables`
(substitution and masking), :mod:`.runner` (running, signals, exit codes) and
:mod:`.report` (text and JSON lines output). Nothing here imports textual or rich.
"""

from mlops_tui.tui.script.errors import Problem, ScriptError, ScriptReadError
from mlops_tui.tui.script.loader import Script, Step, load_script, load_text
from mlops_tui.tui.script.report import JsonReporter, Reporter, TextReporter
from mlops_tui.tui.script.results import Status, StepResult
from mlops_tui.tui.script.runner import RunOptions, run_script

__all__ = ["JsonReporter", "Problem", "Reporter", "RunOptions", "Script", "ScriptError",
           "ScriptReadError", "Status", "Step", "StepResult", "TextReporter", "load_script",
           "load_text", "run_script"]
