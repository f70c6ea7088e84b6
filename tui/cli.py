"""``mlops-tui``: parse flags the way kubectl users expect, build a backend, run the app.

Exit codes: 0 on a normal quit, 2 when the tool cannot start (bad flags, bad kubeconfig,
unreachable or refusing server). Errors print as one ``error: ...`` line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys

from mlops_tui.backends import registry
from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui import flag_types, package_version
from mlops_tui.tui.config import metrics_settings
from mlops_tui.tui.paths import state_dir
from mlops_tui.tui.registry import OWN_VIEWS

OWN_VIEW_ALIASES = {alias for aliases in OWN_VIEWS.values() for alias in aliases}

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
mlops-tui takes an ML team from bare machines to a monitored model on Kubernetes.

 Browse and operate a cluster the way k9s does (:kind to switch views, / to filter,
 ? for the keys of the current view), with GPU nodes and inference workloads first-class.
 New here? 'mlops-tui --demo' opens a simulated GPU cluster; no cluster needed."""

EXAMPLES = """\
Examples:
  # Start with the kubeconfig's current context, in its namespace
  mlops-tui

  # Try every screen without a cluster, in a simulated GPU cluster
  mlops-tui --demo

  # Look at all namespaces of another context, without any way to change things
  mlops-tui --context prod -A --readonly

  # Open straight on the nodes view
  mlops-tui --command nodes

  # Run a script headless (CI): JSON lines, a JUnit report; exit 0 passed, 1 check failed,
  # 2 usage or environment error, 130/143 interrupted
  mlops-tui --script ci.yaml -o json --junit report.xml

Usage:
  mlops-tui [flags] [options]"""


_INSTALLED_BACKENDS = "<installed backends>"  # filled in when help is shown


class _KubectlFormatter(argparse.RawDescriptionHelpFormatter):
    """``-n, --namespace NS`` (metavar once, as kubectl prints it), help aligned at col 30."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        metavar = self._metavar_formatter(action, action.dest.upper())(1)[0]
        return f"{', '.join(action.option_strings)} {metavar}"

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # Listing the installed backends scans every installed distribution: done only when
        # help is shown, not on every launch.
        text = super()._get_help_string(action)
        if text is None or _INSTALLED_BACKENDS not in text:
            return text
        return text.replace(_INSTALLED_BACKENDS, ", ".join(registry.available()) or "none")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with one clear line
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\nSee 'mlops-tui --help' for usage.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlops-tui", description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=_KubectlFormatter, usage=argparse.SUPPRESS,
        add_help=False,
    )
    opts = parser.add_argument_group("Options")
    opts.add_argument("-h", "--help", action="help", help="Show this help and exit.")
    opts.add_argument("--version", action="store_true", help="Print the version and exit.")
    opts.add_argument("--kubeconfig", metavar="PATH",
                      help="Path to the kubeconfig file to use (default: $KUBECONFIG, "
                           "then ~/.kube/config, then in-cluster).")
    opts.add_argument("--context", metavar="NAME",
                      help="The name of the kubeconfig context to use.")
    opts.add_argument("-n", "--namespace", metavar="NS", type=flag_types.namespace,
                      help="The namespace to start in (default: the context's).")
    opts.add_argument("-A", "--all-namespaces", action="store_true",
                      help="Start in all namespaces.")
    opts.add_argument("--readonly", action="store_true",
                      help="Hide and refuse every action that changes the cluster.")
    opts.add_argument("--demo", action="store_true",
                      help="Use the built-in sandbox: a simulated GPU cluster, no cluster "
                           "needed.")
    opts.add_argument("-c", "--command", metavar="KIND", default="pods",
                      help="The view to start in, as after ':' (e.g. pods, nodes, deploy, "
                           "isvc, ctx). Default: pods.")
    opts.add_argument("--backend", metavar="NAME",
                      help=f"Cluster backend to use (installed: {_INSTALLED_BACKENDS}).")
    opts.add_argument("--log-lines", metavar="N", default=5000,
                      type=flag_types.count(100, 1_000_000, "lines"),
                      help="Log lines kept per log view (a ring buffer), 100 to 1000000. "
                           "Default: 5000.")
    opts.add_argument("--log-line-max", metavar="BYTES", default=4096,
                      type=flag_types.count(80, 1_048_576, "bytes"),
                      help="Longer log lines are cut to this many bytes (80 to 1048576). "
                           "Default: 4096.")
    opts.add_argument("--request-timeout", metavar="SECONDS", default=10.0,
                      type=flag_types.seconds(0, 3600),
                      help="Timeout of one API request (more than 0, at most 3600). "
                           "Default: 10.")
    metrics = parser.add_argument_group("Metrics options (the :gpu, :models and :pulse panels)")
    metrics.add_argument("--prometheus-url", metavar="URL",
                         help="Prometheus to read panels from (env MLOPS_TUI_PROMETHEUS_URL, "
                              "or the config file). Default: the cluster's own Prometheus, "
                              "through the API server's service proxy.")
    metrics.add_argument("--prometheus-token-file", metavar="PATH",
                         help="File holding a bearer token for Prometheus (or env "
                              "MLOPS_TUI_PROMETHEUS_TOKEN).")
    metrics.add_argument("--prometheus-user", metavar="NAME",
                         help="Basic-auth user; the password comes from env "
                              "MLOPS_TUI_PROMETHEUS_PASSWORD or the config file.")
    metrics.add_argument("--prometheus-ca-file", metavar="PATH",
                         help="CA bundle to verify Prometheus's certificate with.")
    metrics.add_argument("--prometheus-insecure-skip-tls-verify", action="store_true",
                         help="Do not verify Prometheus's certificate (insecure).")
    metrics.add_argument("--refresh", metavar="SECONDS", default=2.0,
                         type=flag_types.seconds(0.5, 3600),
                         help="Seconds between panel refreshes (0.5 to 3600). Default: 2.")
    script = parser.add_argument_group("Script options (headless: run a YAML file of steps, no UI)")
    script.add_argument("--script", metavar="FILE",
                        help="Run the steps of FILE ('-': stdin) and exit. Its context and "
                             "namespace apply unless --context / -n are given.")
    script.add_argument("--dry-run", action="store_true",
                        help="With --script: check the file, print the plan, connect to "
                             "nothing.")
    script.add_argument("-o", "--output", metavar="FORMAT", choices=("text", "json"),
                        help="With --script: text (default), or json: one object per line "
                             "with keys step, name, action, status, duration_s, data, error; "
                             "status is ok, failed, skipped or cancelled for a step's result, "
                             "progress, output or warning while it runs.")
    script.add_argument("--junit", metavar="FILE",
                        help="With --script: also write a JUnit XML report to FILE.")
    opts.add_argument("-v", "--verbose", action="count", default=0,
                      help="Write debug logs to the state directory's mlops-tui.log.")
    return parser


def _setup_logging(verbose: int) -> None:
    path = state_dir() / "mlops-tui.log"
    logging.basicConfig(
        filename=path, level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # urllib3 logs request lines (with query strings) at debug: keep it quiet.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def settings_from(args: argparse.Namespace) -> BackendSettings:
    return BackendSettings(
        kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace,
        all_namespaces=args.all_namespaces, readonly=args.readonly,
        log_buffer_lines=max(100, args.log_lines), log_line_max=max(80, args.log_line_max),
        request_timeout=args.request_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"mlops-tui {package_version()}")
        return EXIT_OK
    if args.demo and args.backend not in (None, "demo"):
        print("error: --demo and --backend name two backends; choose one", file=sys.stderr)
        return EXIT_USAGE
    if args.script is None and (args.dry_run or args.output or args.junit):
        print("error: --dry-run, --output and --junit go with --script FILE", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.verbose)
    name = "demo" if args.demo else (args.backend or os.environ.get("MLOPS_TUI_BACKEND")
                                     or "kubernetes")
    if args.script is not None:
        from mlops_tui.tui.script.cli import main as script_main  # headless: no UI imports

        return script_main(args, name, settings_from(args))
    # The app collects garbage less often (see MlopsApp.on_mount); do so from here on too:
    # building the backend's state and loading the UI make many long-lived objects, and at
    # the default thresholds dozens of collections walk them before the first frame.
    gc.set_threshold(20_000, 20, 20)
    try:
        metrics = metrics_settings(args)
        backend = registry.create(name, settings_from(args))
        info = asyncio.run(backend.connect())
        start_kind = backend.resolve_kind(args.command)
        if start_kind is None and args.command not in OWN_VIEW_ALIASES:
            raise BackendError(f"unknown view {args.command!r} for --command")
        if start_kind is not None:
            # start filling the first view's cache now: its list runs while the UI loads
            backend.cache(start_kind, info.namespace)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130

    from mlops_tui.tui.app import MlopsApp  # after the connect, so --help and errors stay fast

    def make_metrics():  # on first use of a panel: finding Prometheus may take API calls
        return registry.create_metrics(registry.metrics_source_for(backend), metrics, backend)

    app = MlopsApp(backend, start_view=args.command, metrics_factory=make_metrics,
                   refresh=max(0.5, args.refresh))
    try:
        app.run()
    finally:
        asyncio.run(_close(backend, app.metrics))
    return app.return_code or EXIT_OK


async def _close(*things: object) -> None:
    for thing in things:
        if thing is not None:
            await thing.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
