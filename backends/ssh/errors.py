"""What the SSH layer raises, beyond the backend-wide errors.

Every message names the host and says what to do; none carries a key, a password or a
command's text (a command may hold a join token).
"""

from __future__ import annotations

from mlops_tui.backends.errors import BackendError, ConfigError
from mlops_tui.backends.provisioning.contract import HostKeyOffer


class HostKeyUnknown(ConfigError):
    """The host offered a key known_hosts does not hold, and it was not accepted.

    ``offer`` is what a user is asked about (the TUI shows its fingerprint).
    """

    def __init__(self, offer: HostKeyOffer, known_hosts: str) -> None:
        super().__init__(
            f"host key of {offer.host} is not known ({offer.key_type} {offer.fingerprint}): "
            f"accept it in the preflight, set accept_new_host_keys: true, or add it to "
            f"{known_hosts} (ssh-keyscan)")
        self.offer = offer


class HostKeyChanged(ConfigError):
    """The host offered a key other than the one known_hosts holds: refused, never replaced."""

    def __init__(self, host: str, known: str, offered: str, remove_command: str) -> None:
        super().__init__(
            f"host key of {host} CHANGED: known_hosts has {known}, the host offered {offered}. "
            f"This may be an attack; if the host was reinstalled, remove the old line with: "
            f"{remove_command}")
        self.host = host
        self.known_fingerprint = known
        self.offered_fingerprint = offered


class SudoFailed(ConfigError):
    """sudo on the host refused: it needs a password none was given for, the password was
    wrong, the user may not use sudo, or there is no sudo."""


class CommandTimedOut(BackendError):
    """A remote command ran past its timeout (it was ended)."""
