"""The SSH layer (paramiko): reach the hosts a user names, check their host keys, run
commands with or without sudo, gather facts, and run the preflight checks.

Modules: ``config`` (a HostSpec through ~/.ssh/config → ResolvedHost), ``hostkeys``
(known_hosts), ``connect`` (dial, jump host, authenticate), ``session`` (SshSession),
``sudo`` (sudo wrapping), ``facts`` (one remote script and its parser), ``preflight``.
No textual, no rich, no other concrete backend is imported here.
"""
