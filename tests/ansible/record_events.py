"""Record real ansible-runner events into ``fixtures/*.json`` for the pure mapping tests.

Run as root on a machine with sshd: ``.venv/bin/python -m tests.ansible.record_events``.
It starts a real sshd of its own (:class:`tests.servers.sshd.SshdHost`), runs
``fixtures/sample.yml`` on it over SSH, then once more against a port nobody listens on
(unreachable), and writes the raw event dicts, trimmed of module invocations and of all
but a few facts (the files stay small and hold nothing of this machine beyond its name).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import ansible_runner

from mlops_tui.backends.ansible import inventory as inventory_mod
from mlops_tui.backends.ansible.runner import environment
from tests.ansible.conftest import HOST_PYTHON, host_of
from tests.cluster.controlplane import free_port
from tests.servers.sshd import SshdHost

FIXTURES = Path(__file__).parent / "fixtures"
KEPT_FACTS = ("ansible_hostname", "ansible_system", "ansible_architecture")


def _trim(event: dict[str, Any]) -> dict[str, Any]:
    data = dict(event.get("event_data") or {})
    res = data.get("res")
    if isinstance(res, dict):
        res = {k: v for k, v in res.items() if k != "invocation"}
        if isinstance(res.get("ansible_facts"), dict):
            facts = res["ansible_facts"]
            res["ansible_facts"] = {k: facts[k] for k in KEPT_FACTS if k in facts}
        if isinstance(res.get("results"), list):
            res["results"] = [{k: v for k, v in r.items() if k != "invocation"}
                              if isinstance(r, dict) else r for r in res["results"]]
        data["res"] = res
    for key in ("playbook", "task_path"):
        if key in data:
            data[key] = Path(str(data[key])).name
    keep = ("event", "counter", "stdout", "start_line", "end_line")
    return {**{k: event[k] for k in keep if k in event}, "event_data": data}


def record(playbook: Path, inventory: dict[str, Any], out: Path, work: Path) -> None:
    events: list[dict[str, Any]] = []
    private = work / out.stem
    private.mkdir()
    (private / "cp").mkdir()
    env = environment(private, local=False, control_dir=private / "cp")
    env["ANSIBLE_CONFIG"] = str(private / "ansible.cfg")
    (private / "ansible.cfg").write_text("[defaults]\n")
    ansible_runner.run(private_data_dir=str(private), playbook=str(playbook),
                       inventory=inventory, envvars=env, quiet=True, suppress_env_files=True,
                       event_handler=lambda e: events.append(_trim(e)) or False)
    out.write_text(json.dumps(events, indent=1) + "\n")
    print(f"{out}: {len(events)} events", file=sys.stderr)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mlt-rec-") as tmp:
        work = Path(tmp)
        with SshdHost(work / "sshd") as sshd:
            host = host_of(sshd)
            inv = inventory_mod.build([host], known_hosts=sshd.known_hosts,
                                        python_interpreter=HOST_PYTHON)
            record(FIXTURES / "sample.yml", inv, FIXTURES / "events_sample.json", work)
            dead = host_of(sshd, port=free_port())
            inv = inventory_mod.build([dead], known_hosts=sshd.known_hosts,
                                        python_interpreter=HOST_PYTHON)
            record(FIXTURES / "sample.yml", inv, FIXTURES / "events_unreachable.json", work)


if __name__ == "__main__":
    main()
