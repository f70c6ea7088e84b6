"""Open an authenticated paramiko Transport to one host: dial (directly or through a jump
host's ``direct-tcpip`` channel), check the host key, authenticate with keys.

Blocking paramiko calls run in threads; the host key decision (which may ask a user) runs
in the event loop between the handshake and authentication. Every step has a timeout, and
every failure is a one-line :class:`ConnectionFailed` naming ``user@host:port`` (never a
key's content, never a passphrase).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko

from mlops_tui.backends.errors import ConnectionFailed
from mlops_tui.backends.provisioning.contract import HostKeyDecision
from mlops_tui.backends.ssh.config import ResolvedHost
from mlops_tui.backends.ssh.hostkeys import KnownHosts, fingerprint

log = logging.getLogger(__name__)
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


async def in_thread(fn: Callable[..., Any], *args: Any,
                    on_orphan: Callable[[Any], None] | None = None) -> Any:
    """``fn(*args)`` in a thread; if the caller is cancelled meanwhile, ``on_orphan`` gets the
    result once the thread finishes (to close a transport nobody will use)."""
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if on_orphan is not None:
            future.add_done_callback(
                lambda f: on_orphan(f.result()) if not f.cancelled() and f.exception() is None
                else None)
        raise


def _short(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if path.startswith(home + os.sep) else path


def _prefer_known_types(transport: paramiko.Transport, known: list[str]) -> None:
    """Ask for a key type known_hosts holds first (as ssh does), so a host with several
    keys offers the one we can check."""
    if not known:
        return
    options = transport.get_security_options()
    wanted = []
    for name in known:
        wanted += ["rsa-sha2-512", "rsa-sha2-256"] if name == "ssh-rsa" else [name]
    available = list(options.key_types)
    first = [t for t in wanted if t in available]
    options.key_types = first + [t for t in available if t not in first]


def _dial(host: ResolvedHost, known_types: list[str], sock: Any, timeout: float,
          ) -> paramiko.Transport:
    where = f"ssh {host.target}"
    if sock is None:
        try:
            sock = socket.create_connection((host.hostname, host.port), timeout=timeout)
        except socket.gaierror:
            raise ConnectionFailed(f"{where}: cannot resolve {host.hostname}") from None
        except TimeoutError:
            raise ConnectionFailed(f"{where}: no answer within {timeout:g} s") from None
        except OSError as exc:
            raise ConnectionFailed(f"{where}: {exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.handshake_timeout = timeout
    transport.auth_timeout = timeout
    _prefer_known_types(transport, known_types)
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        raise ConnectionFailed(f"{where}: SSH handshake failed ({exc or type(exc).__name__})"
                               ) from None
    return transport


def _load_key(path: str) -> tuple[paramiko.PKey | None, str]:
    """The key at ``path`` and how to name it in a message (with why it was not used)."""
    name = _short(path)
    if not Path(path).is_file():
        return None, f"{name} (missing)"
    try:
        return paramiko.PKey.from_path(path), name
    except (TypeError, paramiko.PasswordRequiredException):
        return None, f"{name} (has a passphrase: load it into ssh-agent)"
    except Exception:  # noqa: BLE001 - unknown types, bad files: named, never shown
        return None, f"{name} (not a usable private key)"


def _authenticate(transport: paramiko.Transport, host: ResolvedHost) -> str:
    """Try the host's key files, the agent's keys, then ~/.ssh/id_* (only when no key file
    was named). Returns what worked, for the log.

    Raises:
        ConnectionFailed: every key was refused (the message lists which were tried).
    """
    tried: list[str] = []
    candidates: list[tuple[paramiko.PKey, str]] = []
    for path in host.key_files:
        key, name = _load_key(path)
        tried.append(name)
        if key is not None:
            candidates.append((key, name))
    agent = paramiko.Agent()
    try:
        agent_keys = list(agent.get_keys())
        candidates += [(key, "an ssh-agent key") for key in agent_keys]
        if agent_keys:
            tried.append(f"{len(agent_keys)} ssh-agent key(s)")
        if not host.key_files:
            for path in DEFAULT_IDENTITIES:
                key, name = _load_key(os.path.expanduser(path))
                if key is not None:
                    candidates.append((key, name))
                    tried.append(name)
        for key, name in candidates:
            try:
                transport.auth_publickey(host.user, key)
            except paramiko.BadAuthenticationType as exc:
                allowed = ", ".join(exc.allowed_types) or "none"
                raise ConnectionFailed(f"ssh {host.target}: the server does not accept key "
                                       f"authentication (it allows: {allowed})") from None
            except paramiko.AuthenticationException:
                continue
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise ConnectionFailed(f"ssh {host.target}: connection lost during "
                                       f"authentication ({exc or type(exc).__name__})") from None
            if transport.is_authenticated():
                return name
    finally:
        agent.close()
    what = ", ".join(tried) if tried else "no key: none given, no agent, no ~/.ssh/id_*"
    raise ConnectionFailed(f"ssh {host.target}: authentication failed (tried {what})")


def _tunnel(jump: paramiko.Transport, via: ResolvedHost, host: ResolvedHost,
            timeout: float) -> paramiko.Channel:
    try:
        return jump.open_channel("direct-tcpip", (host.hostname, host.port), ("127.0.0.1", 0),
                                 timeout=timeout)
    except paramiko.ChannelException as exc:
        raise ConnectionFailed(f"ssh {host.target}: the jump host {via.target} could not "
                               f"connect to it ({exc.text})") from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectionFailed(f"ssh {host.target}: the jump host {via.target} did not open "
                               f"a channel ({exc or type(exc).__name__})") from None


async def open_transport(host: ResolvedHost, known: KnownHosts, *,
                         decide: HostKeyDecision | None, accept_new: bool, timeout: float,
                         sock: Any = None) -> paramiko.Transport:
    """An authenticated transport to ``host`` (over ``sock`` when given: a jump channel).

    Raises:
        ConnectionFailed: unreachable, timed out, handshake or authentication failed.
        HostKeyChanged: the host offered a key other than the known one.
        HostKeyUnknown: an unknown key that was not accepted.
    """
    name = host.known_hosts_name
    transport = await in_thread(_dial, host, known.known_types(name), sock, timeout,
                                on_orphan=lambda t: t.close())
    try:
        key = transport.get_remote_server_key()
        if not known.check(name, key):
            accepted = accept_new or (decide is not None and await decide(
                known.unknown(name, key).offer))
            if not accepted:
                raise known.unknown(name, key)
            known.add(name, key)
        used = await in_thread(_authenticate, transport, host)
    except BaseException:
        transport.close()
        raise
    log.debug("ssh %s: connected (host key %s, authenticated with %s)", host.target,
              fingerprint(key), used)
    return transport


async def open_with_jump(host: ResolvedHost, known: KnownHosts, *,
                         decide: HostKeyDecision | None, accept_new: bool, timeout: float,
                         ) -> tuple[paramiko.Transport, paramiko.Transport | None]:
    """``(transport, jump_transport)``: through ``host.jump`` when it has one (whose host
    key is checked the same way).

    Raises:
        the errors of :func:`open_transport`, for the jump host or the target.
    """
    if host.jump is None:
        return await open_transport(host, known, decide=decide, accept_new=accept_new,
                                    timeout=timeout), None
    jump = await open_transport(host.jump, known, decide=decide, accept_new=accept_new,
                                timeout=timeout)
    try:
        channel = await in_thread(_tunnel, jump, host.jump, host, timeout)
        transport = await open_transport(host, known, decide=decide, accept_new=accept_new,
                                         timeout=timeout, sock=channel)
    except BaseException:
        jump.close()
        raise
    return transport, jump
