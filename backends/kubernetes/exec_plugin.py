"""Exec credential plugins (``users[].user.exec``) that fail loudly and never leak.

The official client runs the plugin inside ``KubeConfigLoader._load_from_exec_plugin`` and,
when it fails, logs the exception text with ``logging.error`` and carries on without
credentials: requests then go out unauthenticated with no warning, and the text (which
holds the plugin's stderr, where plugins print tokens and debug dumps) lands in our log
file. :class:`CheckedExecLoader` runs the same plugin through the same
:class:`ExecProvider` but turns a failure into a :class:`ConfigError` that names the plugin
and its exit status, and nothing the plugin printed.
"""

from __future__ import annotations

import re
from typing import Any

from kubernetes.config.config_exception import ConfigException
from kubernetes.config.dateutil import parse_rfc3339
from kubernetes.config.exec_provider import ExecProvider
from kubernetes.config.kube_config import FileOrData, KubeConfigLoader

from mlops_tui.backends.errors import ConfigError

_EXIT = re.compile(r"exec: process returned (-?\d+)")


class ExecPluginFailed(ConfigError):
    """The exec credential plugin did not produce credentials."""


def _why(exc: ConfigException) -> str:
    """A failure's reason without the plugin's output (ExecProvider appends its stderr)."""
    text = str(exc)
    exit_code = _EXIT.match(text)
    if exit_code:
        return f"exit {exit_code.group(1)}"
    if "failed to decode process output" in text:
        return "its output is not JSON"
    if "malformed response" in text or "does not match" in text:
        return "its output is not an ExecCredential of the configured apiVersion"
    if "malformed request" in text:
        return "the kubeconfig's exec entry lacks command or apiVersion"
    return "no credentials"


class CheckedExecLoader(KubeConfigLoader):
    """kubectl's loader, except that a failing exec plugin is an error (see module doc).

    The override is also what the client's token refresh calls when the credential
    expires, so a later failure surfaces as the same error on the request that needed it.
    """

    def _load_from_exec_plugin(self) -> bool | None:
        if not self._user or "exec" not in self._user:
            return None
        exec_config = self._user["exec"]
        command = str(exec_config.safe_get("command") or "?")
        base_path = self._get_base_path(self._cluster.path)
        try:
            status = ExecProvider(exec_config, base_path, self._cluster).run()
        except ConfigException as exc:
            raise ExecPluginFailed(f"the exec credential plugin {command} failed "
                                   f"({_why(exc)})") from None
        except OSError as exc:  # not found, not executable
            raise ExecPluginFailed(f"the exec credential plugin {command} cannot be run: "
                                   f"{exc.strerror or exc.__class__.__name__}") from None
        if not isinstance(status, dict):
            raise ExecPluginFailed(f"the exec credential plugin {command} failed "
                                   "(its output has no status)")
        self._store(status, base_path, command)
        return True

    def _store(self, status: dict[str, Any], base_path: str, command: str) -> None:
        """Keep the credential as the client's own loader does (token, or client cert)."""
        if status.get("token"):
            self.token = f"Bearer {status['token']}"
        elif status.get("clientCertificateData") and status.get("clientKeyData"):
            for attr, key in (("cert_file", "clientCertificateData"),
                              ("key_file", "clientKeyData")):
                setattr(self, attr, FileOrData(
                    status, None, data_key_name=key, file_base_path=base_path,
                    base64_file_content=False, temp_file_path=self._temp_file_path).as_file())
        else:
            raise ExecPluginFailed(f"the exec credential plugin {command} returned neither a "
                                   "token nor a client certificate and key")
        if status.get("expirationTimestamp"):
            self.expiry = parse_rfc3339(status["expirationTimestamp"])
