"""Opening a load-test connection: a failure is an error kind, never an exception."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TypeVar

P = TypeVar("P", bound=asyncio.Protocol)


async def open_connection(factory: Callable[[], P], host: str, port: int,
                          ssl_context: ssl.SSLContext | None, timeout_s: float) -> P | str:
    """Connect ``factory``'s protocol to ``host:port`` within ``timeout_s``.

    Returns:
        The connected protocol, or the error kind the senders count: ``"timeout"``,
        ``"tls"`` or ``"unavailable"``.
    """
    loop = asyncio.get_running_loop()
    try:
        _, conn = await asyncio.wait_for(
            loop.create_connection(factory, host, port, ssl=ssl_context), timeout_s)
    except TimeoutError:
        return "timeout"
    except ssl.SSLError:
        return "tls"
    except OSError:
        return "unavailable"
    return conn
