"""``mlops-tui --script FILE``: load, then print the plan (``--dry-run``) or run it.

Exit codes: 0 every step passed (or the plan printed); 1 a check failed; 2 a usage or
environment error (bad file, unreachable cluster, refused credentials, unknown context);
130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui.script.errors import ScriptError, ScriptReadError
from mlops_tui.tui.script.loader import Script, load_script
from mlops_tui.tui.script.report import JsonReporter, Reporter, TextReporter
from mlops_tui.tui.script.results import EXIT_OK, EXIT_USAGE
from mlops_tui.tui.script.runner import RunOptions, run_script
from mlops_tui.tui.script.settings import script_metrics

EXIT_SIGINT = 128 + 2


def reporter_for(script: Script, output: str | None) -> Reporter:
    return (JsonReporter if output == "json" else TextReporter)(script.masker)


def main(args: argparse.Namespace, backend: str, base: BackendSettings) -> int:
    """Run ``args.script`` with the CLI's flags; ``base`` is what the flags alone give."""
    try:
        return _main(args, backend, base)
    except KeyboardInterrupt:  # before the runner's own handler is in place
        return EXIT_SIGINT


def _main(args: argparse.Namespace, backend: str, base: BackendSettings) -> int:
    try:
        script = load_script(args.script)
    except ScriptReadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ScriptError as exc:
        print("\n".join(exc.lines()), file=sys.stderr)
        return EXIT_USAGE
    out = reporter_for(script, args.output)
    if args.dry_run:
        out.plan(script)
        return EXIT_OK
    try:
        options = RunOptions(backend=backend, cluster=base,
                             metrics=script_metrics(script, args), junit=args.junit,
                             handle_signals=True)
    except BackendError as exc:
        out.error(f"error: {exc}")
        return EXIT_USAGE
    return asyncio.run(run_script(script, options, out))
