#!/usr/bin/env python3
"""Tracking-server benchmark: the same load from the official MLflow client against Sextant's
registry and against a real `mlflow server` (SQLite backend), in the same run, ratio first.

Usage: tracking_load.py SEXTANT_BINARY MLFLOW_PYTHON [--runs N] [--batches N] [--searches N] [--scale N]
  SEXTANT_BINARY  the built `sextant` binary (cargo build --release: target/release/sextant)
  MLFLOW_PYTHON   a Python with the full `mlflow` package (for `mlflow server`) and the client
Measures, sequentially as one client: runs created per second, log_batch calls of 100 metrics per
second, filtered searches per second. With --scale N it first fills N runs (10 metrics each) to
show how search holds up with many runs.

Each call's time splits into the client's own CPU (building the request, parsing the answer
into MLflow entities: the same work against either server) and the time it waits for the
server. The calls/s ratio is bounded by the client: it cannot exceed MLflow's time per call over
the client's CPU per call, which the report prints. The server-wait ratio is the servers' own."""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


LOAD = r'''
import json, sys, time
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
uri, runs, batches, searches, scale = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c = MlflowClient(tracking_uri=uri)
exp = c.create_experiment("bench")
if scale:
    filler = c.create_experiment("scale")
    for i in range(scale):
        r = c.create_run(filler)
        c.log_batch(r.info.run_id, metrics=[Metric(f"m{k}", float(i + k), 0, 0) for k in range(10)])
def timed(n, fn):
    """Calls/s, and the client's CPU seconds per call (process time: this process only)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, cpu / n
ids = []
create, create_cpu = timed(runs, lambda: ids.extend(c.create_run(exp).info.run_id for _ in range(runs)))
batch, batch_cpu = timed(batches, lambda: [c.log_batch(ids[b % len(ids)], metrics=[Metric(f"loss{k}", 1.0 / (k + 1), 0, b) for k in range(100)]) for b in range(batches)])
found = 0
def searching():
    global found
    for s in range(searches):
        found += len(c.search_runs([exp], filter_string=f"metrics.loss0 > {0.5 + (s % 3) * 0.1}", max_results=100))
search, search_cpu = timed(searches, searching)
scale_search = None
if scale:
    scale_search, _ = timed(10, lambda: [c.search_runs([filler], filter_string=f"metrics.m3 > {scale - 50}", max_results=100) for _ in range(10)])
print(json.dumps({"runs_per_s": create, "batches_per_s": batch, "searches_per_s": search, "found": found, "scale_searches_per_s": scale_search,
                  "cpu": {"runs_per_s": create_cpu, "batches_per_s": batch_cpu, "searches_per_s": search_cpu}}))
'''


def drive(python, uri, args):
    out = subprocess.run([python, "-c", LOAD, uri, str(args.runs), str(args.batches), str(args.searches), str(args.scale)],
                         capture_output=True, text=True, env={**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("sextant")
    p.add_argument("mlflow_python")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--searches", type=int, default=100)
    p.add_argument("--scale", type=int, default=0)
    args = p.parse_args()
    work = tempfile.mkdtemp()
    results = {}
    try:
        port = free_port()
        ours = subprocess.Popen([args.sextant, "--data-dir", os.path.join(work, "sextant"), "--log-level", "warn",
                                 "registry", "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_up(port, ours)
            results["sextant"] = drive(args.mlflow_python, f"http://127.0.0.1:{port}", args)
        finally:
            ours.terminate()
        port = free_port()
        mlflow_bin = os.path.join(os.path.dirname(args.mlflow_python), "mlflow")
        theirs = subprocess.Popen([mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                                   "--backend-store-uri", f"sqlite:///{os.path.join(work, 'mlflow.db')}",
                                   "--artifacts-destination", os.path.join(work, "mlartifacts")],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_up(port, theirs, 120)
            time.sleep(2)
            results["mlflow"] = drive(args.mlflow_python, f"http://127.0.0.1:{port}", args)
        finally:
            theirs.terminate()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s, m = results["sextant"], results["mlflow"]
    print(f"tracking benchmark: official MLflow client, sequential, {args.runs} runs, {args.batches} batches of 100 metrics, {args.searches} searches")
    print("calls per second, end to end (the client's own CPU included):")
    for key, label in [("runs_per_s", "runs created/s"), ("batches_per_s", "log_batch(100)/s"), ("searches_per_s", "filtered searches/s"), ("scale_searches_per_s", f"searches/s among {args.scale} runs")]:
        if s.get(key) is None:
            continue
        bound = ""
        if key in s["cpu"]:
            # With a server that answered at once, a call would still cost the client's CPU.
            client = (s["cpu"][key] + m["cpu"][key]) / 2
            bound = f"   (client-bound ceiling {1 / m[key] / client:5.1f}x)"
        print(f"{label:<28} ratio {s[key] / m[key]:6.1f}x   sextant {s[key]:9.1f}   mlflow {m[key]:9.1f}{bound}")
    print("server wait per call (wall time minus the client's CPU), ms:")
    for key, label in [("runs_per_s", "create run"), ("batches_per_s", "log_batch(100)"), ("searches_per_s", "filtered search")]:
        ours, theirs = 1 / s[key] - s["cpu"][key], 1 / m[key] - m["cpu"][key]
        print(f"{label:<28} ratio {theirs / ours:6.1f}x   sextant {ours * 1000:9.2f}   mlflow {theirs * 1000:9.2f}   (client CPU {s['cpu'][key] * 1000:.2f} / {m['cpu'][key] * 1000:.2f})")
    assert s["found"] == m["found"], (s["found"], m["found"])


if __name__ == "__main__":
    main()
