"""The serving floor: /health and single-instance /predict latency of three production shapes, side
by side in one run, quiet and with idle and slow clients held open against them.

Shapes (all three running at once, 2 gunicorn workers each, the real model and app):
  sync     gunicorn -w 2 -b 127.0.0.1:PORT                                     (the old `make serve`)
  gthread  gunicorn -k gthread -w 2 --threads 4 -b 127.0.0.1:PORT
  serve    make serve PORT=PORT: gunicorn with 2 gevent workers (scripts/serve.sh, gunicorn_conf.py)
(nginx in front of sync workers, `make serve` until commit 098f9b5, is in BENCHMARKS.md.)

Quiet: rounds that take turns between the shapes (so a change of machine load hits all three),
requests one after the other, each on a new connection (as bench/serve_bench.py) and, for /predict,
also on a kept-alive one (as the backend's fetch does; sync gunicorn closes it anyway).
Attacks, one shape at a time (tests/support/slow_clients.py, held open and reopened when the
server drops them): 2 idle connections (the issue's reproduction); 2 + 2 and 5 + 5 slow-header and
slow-body clients; 200 idle; 200 idle + 5 + 5; 2,000 idle + 5 + 5. Under each, sequential requests with a 2 s client timeout; after 3 failures the rest
are not sent. "recovery" is how long /health then takes to answer once the attack is gone.

Run: .venv/bin/python bench/serve_floor_bench.py [--requests 500] [--attack-requests 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ml_model.schema import FEATURES
from mlops.sidecar.simulator import simulate
from tests.support.procs import rss_mib
from tests.support.serve import ServeUnit, descendants
from tests.support.slow_clients import SlowClients, Timings, timed_requests

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
APP = "ml_model.predict_model:create_app()"
ATTACKS = {  # name: (idle, slow headers, slow bodies)
    "2 idle (the issue's reproduction)": (2, 0, 0),
    "2 slow header + 2 slow body": (0, 2, 2),
    "5 slow header + 5 slow body": (0, 5, 5),
    "200 idle": (200, 0, 0),
    "200 idle + 5 slow header + 5 slow body": (200, 5, 5),
    "2,000 idle + 5 slow header + 5 slow body": (2000, 5, 5),
}


@dataclass
class Shape:
    name: str
    unit: ServeUnit
    startup_s: float = 0.0
    quiet: dict[str, list[float]] = field(default_factory=dict)
    attacks: dict[str, dict] = field(default_factory=dict)


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def fmt(t: Timings) -> str:
    if not t.ms:
        return f"all failed ({t.failures[0] if t.failures else '?'})"
    extra = f" ({len(t.ms)} answered, {len(t.failures)} failed)" if t.failures else ""
    return f"{t.p50:.2f} / {t.p99:.2f}{extra}"


# The backend's way: Node's fetch (undici), which keeps connections alive when the server lets it.
NODE_CLIENT = r"""
const [port, n, body] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
(async () => {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/predict`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    ms.push(performance.now() - t0);
  }
  console.log(JSON.stringify(ms));
})();
"""


def node_fetch_ms(port: int, body: bytes, n: int) -> list[float]:
    """``n`` sequential POST /predict from one Node process (after 20 unmeasured)."""
    out = subprocess.run(
        ["node", "-e", NODE_CLIENT, str(port), str(n + 20), body.decode()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)[20:]


def recovery_s(port: int, limit: float = 90) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if timed_requests(port, "GET", "/health", n=1, timeout=1, max_failures=1).ms:
            return time.monotonic() - t0
    return float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The serving floor of three production shapes.")
    parser.add_argument("--requests", type=int, default=500, help="quiet requests per shape and kind")
    parser.add_argument("--rounds", type=int, default=5, help="quiet rounds, taking turns between shapes")
    parser.add_argument("--attack-requests", type=int, default=100, help="requests per endpoint under attack")
    parser.add_argument("--quiet-only", action="store_true", help="skip the attacks")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="serve_floor_"))
    env = {"PREDICTION_LOG": str(tmp / "predictions.jsonl")}
    ctl = tmp / "ctl"  # gunicorn 26's control socket: not the shared ~/.gunicorn/gunicorn.ctl
    ctl.mkdir()
    shapes = []
    sync = [GUNICORN, "-w", "2", "--control-socket", str(ctl / "sync"), "-b", "127.0.0.1:{port}", APP]
    gthread = [GUNICORN, "-k", "gthread", "--threads", "4", *sync[1:]]
    gthread[gthread.index(str(ctl / "sync"))] = str(ctl / "gthread")
    for name, cmd in (("sync", sync), ("gthread", gthread), ("serve", None)):
        unit = ServeUnit(tmp / f"{name}.log", env=env)
        if cmd:
            unit.cmd = [c.replace("{port}", str(unit.port)) for c in cmd]
        shapes.append(Shape(name, unit))
    rows = json.loads(simulate(1, 5)[list(FEATURES)].to_json(orient="records"))
    one = json.dumps({"instances": rows}).encode()
    try:
        for s in shapes:
            t0 = time.perf_counter()
            s.unit.start()
            s.startup_s = time.perf_counter() - t0
            timed_requests(s.unit.port, "POST", "/predict", one, n=50)  # warm both workers
        print(f"started; load average {load()}", flush=True)
        per_round = max(1, args.requests // args.rounds)
        kinds = {
            "/health": ("GET", "/health", None, False),
            "/predict": ("POST", "/predict", one, False),
            "/predict keep-alive": ("POST", "/predict", one, True),
        }
        quiet_load = [load()]
        for _ in range(args.rounds):
            for s in shapes:
                for kind, (method, path, body, keep) in kinds.items():
                    t = timed_requests(
                        s.unit.port, method, path, body, n=per_round, keep_alive=keep, max_failures=1
                    )
                    assert not t.failures, (s.name, kind, t.failures)
                    s.quiet.setdefault(kind, []).extend(t.ms)
                if shutil.which("node"):
                    s.quiet.setdefault("/predict from Node fetch", []).extend(
                        node_fetch_ms(s.unit.port, one, per_round)
                    )
        quiet_load.append(load())
        print(f"quiet done; load average {quiet_load}", flush=True)
        for attack, (idle, headers, bodies) in ({} if args.quiet_only else ATTACKS).items():
            for s in shapes:
                before = load()
                with SlowClients(s.unit.port, idle=idle, slow_headers=headers, slow_bodies=bodies) as clients:
                    time.sleep(1.0)  # the slow ones have sent a piece; every connection is accepted
                    health = timed_requests(s.unit.port, "GET", "/health", n=args.attack_requests)
                    predict = timed_requests(s.unit.port, "POST", "/predict", one, n=args.attack_requests)
                    rss = rss_mib(sorted(descendants(s.unit.proc.pid)))
                    held = clients.stop()
                rec = recovery_s(s.unit.port)
                s.attacks[attack] = {
                    "health": health,
                    "predict": predict,
                    "held": held,
                    "rss_mb": rss,
                    "recovery_s": rec,
                    "load": f"{before}-{load()}",
                }
                print(
                    f"{attack:<44} {s.name:<8} /health {fmt(health):<40} /predict {fmt(predict):<40} "
                    f"rss {rss:.0f} MB, reopened {held.get('reopened')}, recovery {rec:.1f} s, "
                    f"load {s.attacks[attack]['load']}",
                    flush=True,
                )
    finally:
        for s in shapes:
            s.unit.stop()
            s.unit.kill_leftovers()
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\nQuiet, {args.requests} requests per cell, {args.rounds} rounds taking turns; load average "
        f"{quiet_load[0]} before, {quiet_load[1]} after. p50 / p99 in ms:\n"
    )
    print("| | " + " | ".join(s.name for s in shapes) + " |")
    print("|---|" + "---|" * len(shapes))
    print("| start-up until /health answers | " + " | ".join(f"{s.startup_s:.2f} s" for s in shapes) + " |")
    for kind in shapes[0].quiet:
        cells = [fmt(Timings(s.quiet[kind], [])) for s in shapes]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\np50 against sync's (the old `make serve`), same client:")
    for s in shapes[1:]:
        for kind in [k for k in shapes[0].quiet if k.startswith("/predict")]:
            ratio = Timings(s.quiet[kind], []).p50 / Timings(shapes[0].quiet[kind], []).p50
            print(f"  {s.name:<8} {kind:<26} {ratio:.3f}")
    if args.quiet_only:
        return 0
    print(
        f"\nUnder attack, {args.attack_requests} sequential requests per endpoint, 2 s client "
        "timeout, stop after 3 failures. p50 / p99 in ms:\n"
    )
    print("| attack | shape | /health | /predict | recovery | RSS of the unit | load |")
    print("|---|---|---|---|---|---|---|")
    for attack in ATTACKS:
        for s in shapes:
            a = s.attacks[attack]
            print(
                f"| {attack} | {s.name} | {fmt(a['health'])} | {fmt(a['predict'])} | {a['recovery_s']:.1f} s | "
                f"{a['rss_mb']:.0f} MB | {a['load']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
