"""Where credentials come from: kubeconfig files (kubectl's precedence) or in-cluster.

Precedence, as kubectl: ``--kubeconfig``, then ``$KUBECONFIG`` (a list of files, merged,
the first file to define a name wins), then ``~/.kube/config``, then the in-cluster service
account. Every failure becomes a :class:`ConfigError` with the file named and no secret in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_TOKEN_FILENAME, InClusterConfigLoader
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import ContextInfo

IN_CLUSTER = "in-cluster"


@dataclass
class LoadedConfig:
    api_client: ApiClient
    context: str
    cluster: str
    user: str
    namespace: str  # the context's namespace, "" when it names none
    server: str


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    """The kubeconfig files in force, existing ones only, in precedence order."""
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and
                Path(p).expanduser().exists()]
    default = Path("~/.kube/config").expanduser()
    return [default] if default.exists() else []


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and Path(
        SERVICE_TOKEN_FILENAME).exists()


def _merged(paths: list[Path]) -> dict:
    for path in paths:
        if not path.exists():
            raise ConfigError(f"kubeconfig {path} does not exist")
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"kubeconfig {path} is not valid YAML{where}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"kubeconfig {path} is empty or not a mapping")
    try:
        merger = KubeConfigMerger(os.pathsep.join(str(p) for p in paths))
    except (ConfigException, OSError, yaml.YAMLError, TypeError, KeyError) as exc:
        raise ConfigError(f"invalid kubeconfig: {_scrub(exc)}") from None
    config = merger.config
    # kubectl: the first file that sets current-context wins (the merger keeps the last).
    for path in paths:
        data = yaml.safe_load(path.read_text()) or {}
        if data.get("current-context"):
            config.value["current-context"] = data["current-context"]
            break
    return config


def _scrub(exc: BaseException) -> str:
    """An exception's text without anything that looks like a credential."""
    text = str(exc)
    for marker in ("token", "password", "client-key-data"):
        if marker in text.lower():
            return exc.__class__.__name__
    return text.splitlines()[0] if text else exc.__class__.__name__


def _loader(paths: list[Path], context: str | None) -> KubeConfigLoader:
    merged = _merged(paths)
    if context is None and not merged.value.get("current-context"):
        raise ConfigError("kubeconfig has no current-context", hint="pass --context NAME")
    try:
        return KubeConfigLoader(config_dict=merged, active_context=context,
                                config_base_path=None)
    except ConfigException as exc:
        raise ConfigError(f"invalid kubeconfig: {_scrub(exc)}") from None


def list_contexts(explicit: str | None) -> list[ContextInfo]:
    paths = kubeconfig_paths(explicit)
    if not paths:
        return [ContextInfo(IN_CLUSTER, IN_CLUSTER, "serviceaccount", current=True)] if (
            _in_cluster_available()) else []
    loader = _loader(paths, None)
    current = (loader.current_context or {}).get("name")
    out = []
    for ctx in loader.list_contexts():
        body = ctx.get("context") or {}
        out.append(ContextInfo(name=ctx["name"], cluster=body.get("cluster", ""),
                               user=body.get("user", ""), namespace=body.get("namespace", ""),
                               current=ctx["name"] == current))
    return out


def load(explicit: str | None, context: str | None, timeout: float) -> LoadedConfig:
    """Build an API client for ``context`` (None: the current one).

    Raises:
        ConfigError: no configuration, unreadable or invalid files, unknown context.
    """
    paths = kubeconfig_paths(explicit)
    configuration = Configuration()
    if not paths:
        if explicit is None and _in_cluster_available():
            try:
                InClusterConfigLoader(token_filename=SERVICE_TOKEN_FILENAME,
                                      cert_filename="/var/run/secrets/kubernetes.io/"
                                      "serviceaccount/ca.crt").load_and_set(configuration)
            except ConfigException as exc:
                raise ConfigError(f"in-cluster configuration failed: {_scrub(exc)}") from None
            ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
            return LoadedConfig(ApiClient(configuration), IN_CLUSTER, IN_CLUSTER,
                                "serviceaccount", namespace, configuration.host)
        where = explicit or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ConfigError(f"no kubeconfig found at {where}",
                          hint="pass --kubeconfig, set KUBECONFIG, or try --demo")
    if context is not None:
        names = [c.name for c in list_contexts(explicit)]
        if context not in names:
            raise ConfigError(f"context {context!r} not found in kubeconfig; "
                              f"available: {', '.join(names) or 'none'}")
    loader = _loader(paths, context)
    ctx = loader.current_context
    if not ctx:
        raise ConfigError("kubeconfig has no current-context", hint="pass --context NAME")
    try:
        loader.load_and_set(configuration)
    except (ConfigException, ValueError, KeyError, TypeError, OSError) as exc:
        raise ConfigError(f"context {ctx['name']!r} is unusable: {_scrub(exc)}") from None
    configuration.retries = False  # we retry ourselves, with backoff and jitter
    body = ctx.get("context") or {}
    return LoadedConfig(
        api_client=ApiClient(configuration), context=ctx["name"],
        cluster=body.get("cluster", ""), user=body.get("user", ""),
        namespace=body.get("namespace", ""), server=configuration.host,
    )
