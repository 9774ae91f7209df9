#!/usr/bin/env python3
"""The stock MLflow client against two tracking servers, side by side, one workload at a time.

    python3 scripts/mlflow_bench.py [--scale N] NAME=URL [NAME=URL ...]

Run by scripts/mlflow-bench, which starts `vouch serve --http` and `mlflow server` and puts
the pinned client on PYTHONPATH. The first NAME is the one the ratios are taken against
(ratio = other's wall time / first's). Each workload runs on every server in turn before the
next workload starts, so the servers are compared minutes apart, not a whole run apart.

Every workload is timed wall-clock and with this process's own CPU time
(`time.process_time`): a CPU share near 100% means the client, not the server, sets the pace.
log_batch, log_metric, search_runs and get_run are also timed with raw HTTP (http.client,
one kept-alive connection, a JSON body built with json.dumps, the response read but not
parsed): the server's time plus loopback, without the client's own work.

N scales the workloads (1.0: 100,000 metric values by log_batch, 2,000 log_metric calls,
1,000 runs of 20 params and 10 metrics); the read loops shrink with it down to 10 calls.
Standard library plus the mlflow client only.
"""
import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

SEARCH = "metrics.auc > 0.8"


def scaled(full, scale, least=1):
    return max(least, round(full * scale))


def pct(values, q):
    values = sorted(values)
    return values[int(q * (len(values) - 1))]


class Raw:
    """Raw HTTP on one kept-alive connection: the server's time without the client's. A new
    one for each workload, as servers close connections left idle for a few seconds."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {payload[:300]!r}")
        return payload


class Target:
    def __init__(self, name, url):
        self.name = name
        self.url = url
        self.client = MlflowClient(tracking_uri=url)
        self.raw = None
        self.batch_run = None
        self.metric_run = None
        self.runs_experiment = None
        self.run_ids = []


def timed(fn):
    """(wall seconds, client CPU seconds) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_each(calls, fn):
    """Per-call wall times in ms, and the client CPU share over all calls."""
    times = []
    cpu, start = time.process_time(), time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    return times, (time.process_time() - cpu) / (time.perf_counter() - start)


def now_ms():
    return int(time.time() * 1000)


# ---- workloads: each takes a Target and returns a result dict -------------------------------

def setup(t, tag):
    c = t.client
    experiment = c.create_experiment(f"bench-{tag}-{t.name}")
    t.batch_run = c.create_run(experiment, run_name="log-batch").info.run_id
    t.metric_run = c.create_run(experiment, run_name="log-metric").info.run_id
    t.runs_experiment = c.create_experiment(f"bench-runs-{tag}-{t.name}")


def log_batch(t, calls):
    def go():
        step = 0
        for _ in range(calls):
            ts = now_ms()
            metrics = []
            for j in range(1000):
                metrics.append(Metric(f"m{j % 10}", float(step + j // 10) * 0.001, ts, step + j // 10))
            step += 100
            t.client.log_batch(t.batch_run, metrics=metrics)
    return timed(go)


def log_batch_raw(t, calls):
    t.raw = Raw(t.url)
    def go():
        for i in range(calls):
            ts = now_ms()
            metrics = [{"key": f"raw{j % 10}", "value": j * 0.5, "timestamp": ts,
                        "step": i * 100 + j // 10} for j in range(1000)]
            t.raw.call("POST", "/api/2.0/mlflow/runs/log-batch",
                       {"run_id": t.batch_run, "metrics": metrics})
    return timed(go)


def log_metric(t, calls):
    def go():
        for i in range(calls):
            t.client.log_metric(t.metric_run, "loss", 1.0 / (i + 1), step=i)
    return timed(go)


def log_metric_raw(t, calls):
    t.raw = Raw(t.url)
    def go():
        for i in range(calls):
            t.raw.call("POST", "/api/2.0/mlflow/runs/log-metric",
                       {"run_id": t.metric_run, "key": "raw_loss", "value": 1.0 / (i + 1),
                        "timestamp": now_ms(), "step": i})
    return timed(go)


def create_runs(t, runs):
    c = t.client

    def go():
        for i in range(runs):
            run = c.create_run(t.runs_experiment, run_name=f"r{i}")
            rid = run.info.run_id
            ts = now_ms()
            params = [Param(f"p{j}", f"value-{i % 7}-{j}") for j in range(20)]
            # auc runs through 0.00 .. 0.99 in every 100 runs, in a scattered order: 19% are above 0.8.
            metrics = [Metric("auc", (i * 37 % 100) / 100, ts, 0)]
            metrics += [Metric(f"m{j}", i * 0.01 + j, ts, 0) for j in range(1, 10)]
            c.log_batch(rid, metrics=metrics, params=params)
            c.set_terminated(rid)
            t.run_ids.append(rid)
    return timed(go)


def search(t, calls):
    found = set()

    def one(_):
        hits = t.client.search_runs([t.runs_experiment], SEARCH, max_results=1000)
        found.add(len(hits))
    times, share = timed_each(calls, one)
    return times, share, found


def search_raw(t, calls):
    t.raw = Raw(t.url)
    found = set()
    body = {"experiment_ids": [t.runs_experiment], "filter": SEARCH, "max_results": 1000,
            "run_view_type": "ACTIVE_ONLY"}

    def one(_):
        payload = t.raw.call("POST", "/api/2.0/mlflow/runs/search", body)
        if not found:
            found.add(len(json.loads(payload).get("runs", [])))
    times, share = timed_each(calls, one)
    return times, share, found


def get_run(t, calls):
    ids = t.run_ids

    def one(i):
        run = t.client.get_run(ids[i % len(ids)])
        if len(run.data.params) != 20:
            raise RuntimeError(f"{t.name}: get_run returned {len(run.data.params)} params, not 20")
    return timed_each(calls, one)


def get_run_raw(t, calls):
    t.raw = Raw(t.url)
    ids = t.run_ids

    def one(i):
        t.raw.call("GET", "/api/2.0/mlflow/runs/get?" + urllib.parse.urlencode({"run_id": ids[i % len(ids)]}))
    return timed_each(calls, one)


# ---- the report ------------------------------------------------------------------------------

def fmt_s(seconds):
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def fmt_ms(ms):
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("targets", nargs="+", metavar="NAME=URL")
    args = parser.parse_args()
    targets = [Target(*spec.split("=", 1)) for spec in args.targets]
    s = args.scale
    tag = str(now_ms())
    n_batch = scaled(100, s)
    n_batch_raw = scaled(20, s)
    n_metric = scaled(2000, s, 10)
    n_metric_raw = scaled(500, s, 10)
    n_runs = scaled(1000, s, 10)
    n_search = scaled(50, s, 10)
    n_get = scaled(200, s, 10)

    for t in targets:
        setup(t, tag)

    rows = []  # (kind, label, size, unit, {name: result})

    def write(label, size, unit, fn, count):
        """A write workload: total wall time, and per call."""
        results = {}
        for t in targets:
            wall, cpu = fn(t, count)
            results[t.name] = {"wall": wall, "op_ms": wall * 1000 / count, "cpu_ms": cpu * 1000 / count,
                               "share": cpu / wall}
            print(f"  {label:<34} {t.name:<7} {fmt_s(wall):>9}  {fmt_ms(wall * 1000 / count)}/{unit}"
                  f"  client CPU {100 * cpu / wall:3.0f}%", file=sys.stderr, flush=True)
        rows.append(("write", label, size, unit, results))

    def read(label, size, fn, count):
        """A read workload: median and p95 of each call's wall time."""
        results = {}
        for t in targets:
            out = fn(t, count)
            times, share = out[0], out[1]
            median = statistics.median(times)
            results[t.name] = {"op_ms": median, "p95": pct(times, 0.95), "share": share,
                               "cpu_ms": share * sum(times) / count,
                               "found": out[2] if len(out) > 2 else None}
            print(f"  {label:<34} {t.name:<7} median {fmt_ms(median)}  p95 {fmt_ms(pct(times, 0.95))}"
                  f"  client CPU {100 * share:3.0f}%", file=sys.stderr, flush=True)
        rows.append(("read", label, size, "call", results))

    def calls(n):
        return f"{n:,} call{'s' if n != 1 else ''}"

    write("log_batch (client)", f"{calls(n_batch)} x 1,000 values", "call", log_batch, n_batch)
    write("log_batch (raw HTTP)", f"{calls(n_batch_raw)} x 1,000 values", "call", log_batch_raw, n_batch_raw)
    write("log_metric (client)", calls(n_metric), "call", log_metric, n_metric)
    write("log_metric (raw HTTP)", calls(n_metric_raw), "call", log_metric_raw, n_metric_raw)
    write("create runs (client)", f"{n_runs:,} runs: create_run, log_batch (20 params, 10 metrics), "
          "set_terminated", "run", create_runs, n_runs)
    read("search_runs auc > 0.8 (client)", f"{calls(n_search)} over {n_runs:,} runs", search, n_search)
    read("search_runs auc > 0.8 (raw HTTP)", calls(n_search), search_raw, n_search)
    read("get_run (client)", calls(n_get), get_run, n_get)
    read("get_run (raw HTTP)", calls(n_get), get_run_raw, n_get)

    # Every server must have answered the same search.
    found = {}
    for _, label, _, _, results in rows:
        for name, r in results.items():
            if r.get("found") is not None:
                found.setdefault(name, set()).update(r["found"])
    if len({frozenset(v) for v in found.values()}) != 1 or len(next(iter(found.values()))) != 1:
        raise SystemExit(f"the servers disagree on the search's hits: {found}")

    names = [t.name for t in targets]
    base, others = names[0], names[1:]
    print()
    print(f"scale {s}. Writes: total wall time (per call or run); reads: median (p95) per call. "
          f"ratio = {'/'.join(others)} time / {base} time. client CPU = the client process's own CPU "
          f"time as a share of wall time. ceiling = {'/'.join(others)} time / the client's CPU time "
          f"against {base}: the ratio {base} could reach with a server that took no time.")
    print()
    head = ["workload", "size"] + names + [f"ratio {o}/{base}" for o in others] \
        + [f"client CPU ({n})" for n in names] + ["ceiling"] + ["target"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for kind, label, size, unit, results in rows:
        if kind == "write":
            cells = [f"{fmt_s(results[n]['wall'])} ({fmt_ms(results[n]['op_ms'])}/{unit})" for n in names]
        else:
            cells = [f"{fmt_ms(results[n]['op_ms'])} ({fmt_ms(results[n]['p95'])})" for n in names]
        ratios = [f"{results[o]['op_ms'] / results[base]['op_ms']:.1f}x" for o in others]
        shares = [f"{100 * results[n]['share']:.0f}%" for n in names]
        ceiling = ""
        if "client" in label:
            ceiling = "/".join(f"{results[o]['op_ms'] / results[base]['cpu_ms']:.1f}x" for o in others)
        target = ""
        if kind == "write" and "client" in label:
            met = all(results[o]["op_ms"] / results[base]["op_ms"] >= 5 for o in others)
            target = f"ratio >= 5x: {'met' if met else 'missed'}"
        if label.startswith("search_runs") and "raw" in label:
            target = f"< 5 ms: {'met' if results[base]['op_ms'] < 5 else 'missed'}"
        print("| " + " | ".join([label, size] + cells + ratios + shares + [ceiling, target]) + " |")
    print()
    print(f"search hits per call: {next(iter(next(iter(found.values()))))} runs of {n_runs:,}")

if __name__ == "__main__":
    main()
