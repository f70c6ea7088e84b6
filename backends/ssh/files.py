"""SFTP reads and writes for :class:`~mlops_tui.backends.ssh.session.SshSession` (blocking:
the session calls them in a thread)."""

from __future__ import annotations

import io
from pathlib import Path

import paramiko

from mlops_tui.backends.errors import BackendError, ConnectionFailed
from mlops_tui.backends.ssh.config import ResolvedHost

FILE_CAP = 64 * 1024 * 1024  # bytes read_file returns at most


class RemoteFileError(BackendError):
    """A remote file could not be read or written (missing, permission, disk full)."""


def sftp_read(transport: paramiko.Transport, host: ResolvedHost, path: str) -> bytes:
    """Read ``path`` over SFTP (at most :data:`FILE_CAP` bytes).

    Raises:
        RemoteFileError: missing, unreadable or too large.
        ConnectionFailed: the SFTP session failed.
    """
    try:
        with transport.open_sftp_client() as sftp, sftp.open(path, "rb") as file:
            if file.stat().st_size > FILE_CAP:
                raise RemoteFileError(f"{host.hostname}:{path}: larger than "
                                      f"{FILE_CAP // 2**20} MiB")
            file.prefetch()
            return file.read(FILE_CAP)
    except OSError as exc:
        raise RemoteFileError(f"{host.hostname}:{path}: "
                              f"{exc.strerror or 'cannot be read'}") from None
    except (paramiko.SSHException, EOFError) as exc:
        raise ConnectionFailed(f"ssh {host.target}: SFTP failed ({exc})") from None


def sftp_write(transport: paramiko.Transport, host: ResolvedHost, source: Path | bytes,
               remote: str, mode: int | None) -> None:
    """Write a local file or bytes to ``remote`` over SFTP, then ``chmod`` it (unless
    ``mode`` is None: an existing file keeps its mode).

    Raises:
        RemoteFileError: the write failed (permission, disk full, no directory).
        ConnectionFailed: the SFTP session failed.
    """
    try:
        with transport.open_sftp_client() as sftp:
            if isinstance(source, Path):
                sftp.put(str(source), remote, confirm=True)
            else:
                sftp.putfo(io.BytesIO(source), remote, confirm=True)
            if mode is not None:
                sftp.chmod(remote, mode)
    except OSError as exc:
        raise RemoteFileError(f"{host.hostname}:{remote}: "
                              f"{exc.strerror or 'cannot be written'}") from None
    except (paramiko.SSHException, EOFError) as exc:
        raise ConnectionFailed(f"ssh {host.target}: SFTP failed ({exc})") from None
