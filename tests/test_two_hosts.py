"""Two machines, for real: two hosts made on this machine with network and UTS namespaces.

Host A and host B each get a network namespace (``ip netns``), joined by a veth pair with its own
addresses, and a UTS namespace (``unshare --uts``) with its own hostname. A TLS Dask scheduler and a
worker run on A, a worker on B, and the client (``bench run --executor dask --each-host``) on A: every
byte goes over loopback inside A or over the veth pair between A and B, never through this machine's
own network. Then ``bench compare RUN@hostA RUN@hostB``: records by host, a fingerprint per host (the
same hardware, told apart by hostname), the control measured on each host.

Skipped where namespaces cannot be made (not root, no ``ip``/``unshare``, a sandbox that forbids them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.invariants import TINY_TIMING

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CONFIG = (
    """
adapters = ["fake-busy", "fake-ok"]
devices = ["cpu"]
splits = 3
trial_timeout_s = 120
"""
    + TINY_TIMING
    + """control_span_s = 0.05
"""
)


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


class Hosts:
    """Two network namespaces joined by a veth pair; each command runs in one with its own hostname."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.ns = {"A": f"bench-a-{tag}", "B": f"bench-b-{tag}"}
        self.names = {"A": f"host-a-{tag}", "B": f"host-b-{tag}"}
        octet = 100 + int(tag[:2], 16) % 100
        self.addr = {"A": f"10.231.{octet}.1", "B": f"10.231.{octet}.2"}
        self.veth = {"A": f"va{tag}", "B": f"vb{tag}"}
        self.procs: list[subprocess.Popen] = []

    def make(self) -> str | None:
        """Build them; a reason to skip when this machine cannot."""
        if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare") or not shutil.which("hostname"):
            return "needs root, ip, unshare and hostname"
        steps = [("netns", "add", self.ns["A"]), ("netns", "add", self.ns["B"]),
                 ("link", "add", self.veth["A"], "type", "veth", "peer", "name", self.veth["B"])]  # fmt: skip
        for side in "AB":
            steps += [("link", "set", self.veth[side], "netns", self.ns[side]),
                      ("-n", self.ns[side], "addr", "add", f"{self.addr[side]}/24", "dev", self.veth[side]),
                      ("-n", self.ns[side], "link", "set", self.veth[side], "up"),
                      ("-n", self.ns[side], "link", "set", "lo", "up")]  # fmt: skip
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                return f"cannot make network namespaces here (ip {' '.join(step)}: {done.stderr.strip()[:120]})"
        probe = self.command("A", ["true"])
        if subprocess.run(probe, capture_output=True, timeout=30).returncode != 0:
            return "cannot make UTS namespaces here (unshare --uts)"
        return None

    def command(self, side: str, argv: list[str]) -> list[str]:
        """``argv`` in host ``side``'s network namespace, in a UTS namespace whose hostname is the host's."""
        return ["ip", "netns", "exec", self.ns[side], "unshare", "--uts", "sh", "-c",
                f'hostname {self.names[side]} && exec "$0" "$@"', *argv]  # fmt: skip

    def start(self, side: str, argv: list[str], env: dict, log: Path) -> subprocess.Popen:
        with log.open("ab") as out:
            proc = subprocess.Popen(self.command(side, argv), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for side in "AB":
            _ip("netns", "del", self.ns[side])  # deleting a namespace deletes its end of the veth pair


def _tls_files(folder: Path) -> dict[str, str]:
    from distributed import Security

    security = Security.temporary()  # one self-signed CA and key for this test only
    files = {"ca": security.tls_ca_file, "cert": security.tls_client_cert, "key": security.tls_client_key}
    out = {}
    for name, pem in files.items():
        path = folder / f"{name}.pem"
        path.write_text(pem)
        path.chmod(0o600)
        out[name] = str(path)
    return out


def test_two_hosts_in_namespaces_run_each_host_and_compare(tmp_path):
    pytest.importorskip("distributed")
    hosts = Hosts()
    try:
        why = hosts.make()
        if why:
            pytest.skip(why)
        tls = _tls_files(tmp_path)
        env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_ADAPTERS="fake-ok=tests.fake_adapters:_Fake,"
                   "fake-busy=tests.fake_adapters:BusyClassifier", DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="30s")  # fmt: skip
        tls_dask = ["--tls-ca-file", tls["ca"], "--tls-cert", tls["cert"], "--tls-key", tls["key"]]
        scheduler = f"tls://{hosts.addr['A']}:8786"
        hosts.start("A", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", hosts.addr["A"], "--port",
                          "8786", "--protocol", "tls", "--no-dashboard", *tls_dask], env, tmp_path / "scheduler.log")  # fmt: skip
        for side in "AB":
            hosts.start(side, [sys.executable, "-m", "distributed.cli.dask_worker", scheduler, "--nthreads", "1",
                               "--nworkers", "1", "--no-dashboard", "--host", hosts.addr[side], *tls_dask], env,
                        tmp_path / f"worker-{side}.log")  # fmt: skip
        wait = (
            "import sys; from distributed import Client, Security; "
            f"s = Security(tls_ca_file={tls['ca']!r}, tls_client_cert={tls['cert']!r}, tls_client_key={tls['key']!r}, "
            "require_encryption=True); "
            f"c = Client({scheduler!r}, security=s, timeout='60s'); c.wait_for_workers(2, timeout=90); "
            "print(sorted(c.run(__import__('socket').gethostname).values()))"
        )
        ready = subprocess.run(hosts.command("A", [sys.executable, "-c", wait]), env=env, capture_output=True, text=True,
                               timeout=180, cwd=ROOT)  # fmt: skip
        assert ready.returncode == 0, ready.stderr[-2000:] + (tmp_path / "worker-B.log").read_text()[-2000:]
        assert json.loads(ready.stdout.strip().replace("'", '"')) == [hosts.names["A"], hosts.names["B"]]
        (tmp_path / "tiny.toml").write_text(CONFIG)
        results = str(tmp_path / "results")
        run = subprocess.run(hosts.command("A", [sys.executable, "-m", "hello_bench", "run", "--config", str(tmp_path / "tiny.toml"),
                                                 "--executor", "dask", "--scheduler", scheduler, "--tls-ca", tls["ca"],
                                                 "--tls-cert", tls["cert"], "--tls-key", tls["key"], "--each-host",
                                                 "--run-id", "two", "--results-dir", results]),
                             env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
    finally:
        hosts.close()
    folder = tmp_path / "results" / "runs" / "two"
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    a, b = hosts.names["A"], hosts.names["B"]
    by_host = {h: [r for r in records if r.get("host") == h] for h in (a, b)}
    assert len(by_host[a]) == len(by_host[b]) == 6 and all(r["status"] == "ok" for r in records)
    assert {r["hostname"] for r in by_host[a]} == {a} and {r["hostname"] for r in by_host[b]} == {b}
    assert {r["machine_id"] for r in records} == {records[0]["machine_id"]}  # the same hardware...
    from hello_bench.store.reader import RunFolder

    fingerprints = RunFolder(folder).environments()  # the client's (on host A) and every host that ran trials
    assert {f"{records[0]['machine_id']}-{a}", f"{records[0]['machine_id']}-{b}"} <= set(fingerprints)  # two machines
    assert fingerprints[f"{records[0]['machine_id']}-{b}"]["hostname"] == b
    rounds = json.loads((folder / "control.json").read_text())["rounds"]
    assert {(r["host"], r["phase"]) for r in rounds} == {(h, p) for h in (a, b) for p in ("before", "after")}
    assert all(r["hostname"] == r["host"] and r["python_loop_ms"] > 0 for r in rounds)  # measured on that host
    out = subprocess.run([sys.executable, "-m", "hello_bench", "compare", f"two@{a}", f"two@{b}", "--results-dir", results,
                          "--json", "--out", str(tmp_path / "cmp")], env=env, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    tables = {t["name"]: by_label(t) for t in data["tables"]}
    assert (
        {str(r["B controls"]) for r in tables["control"]} == {"2"} == {str(r["A controls"]) for r in tables["control"]}
    )
    fits = [r for r in tables["ratios"] if r["metric"] == "fit time (B/A)"]
    assert {r["trials"] for r in fits} == {"iris/fake-busy/cpu", "iris/fake-ok/cpu"}
    assert all(r["normalised by the control [95% CI]"] not in ("-", None) for r in fits)
    report = next((tmp_path / "cmp").glob("COMPARE-*.md")).read_text()
    assert f"two@{a}" in report and "Does the ranking of adapters hold" in report


def by_label(table: dict) -> list[dict]:
    """A ``--json`` table's rows keyed by the column labels the report shows (the JSON keys are snake_case)."""
    labels = {c["key"]: c["label"] for c in table["columns"]}
    return [{labels.get(k, k): v for k, v in row.items()} for row in table["rows"]]
