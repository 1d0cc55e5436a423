#!/usr/bin/env python3
"""Tracking-server benchmark: the same load from the official MLflow client against Sextant's
registry and against a real `mlflow server` (SQLite backend), in the same run, ratio first.

Usage: tracking_load.py SEXTANT_BINARY MLFLOW_PYTHON [--runs N] [--batches N] [--searches N] [--scale N]
  SEXTANT_BINARY  the built `sextant` binary (cargo build --release: target/release/sextant)
  MLFLOW_PYTHON   a Python with the full `mlflow` package (for `mlflow server`) and the client
Measures, sequentially as one client: runs created per second, log_batch calls of 100 metrics per
second, filtered searches per second. With --scale N it first fills N runs (10 metrics each) to
show how search holds up with many runs."""
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
t = time.perf_counter()
ids = [c.create_run(exp).info.run_id for _ in range(runs)]
create = runs / (time.perf_counter() - t)
t = time.perf_counter()
for b in range(batches):
    c.log_batch(ids[b % len(ids)], metrics=[Metric(f"loss{k}", 1.0 / (k + 1), 0, b) for k in range(100)])
batch = batches / (time.perf_counter() - t)
t = time.perf_counter()
found = 0
for s in range(searches):
    found += len(c.search_runs([exp], filter_string=f"metrics.loss0 > {0.5 + (s % 3) * 0.1}", max_results=100))
search = searches / (time.perf_counter() - t)
scale_search = None
if scale:
    t = time.perf_counter()
    for s in range(10):
        c.search_runs([filler], filter_string=f"metrics.m3 > {scale - 50}", max_results=100)
    scale_search = 10 / (time.perf_counter() - t)
print(json.dumps({"runs_per_s": create, "batches_per_s": batch, "searches_per_s": search, "found": found, "scale_searches_per_s": scale_search}))
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
    for key, label in [("runs_per_s", "runs created/s"), ("batches_per_s", "log_batch(100)/s"), ("searches_per_s", "filtered searches/s"), ("scale_searches_per_s", f"searches/s among {args.scale} runs")]:
        if s.get(key) is None:
            continue
        print(f"{label:<28} ratio {s[key] / m[key]:6.1f}x   sextant {s[key]:9.1f}   mlflow {m[key]:9.1f}")
    assert s["found"] == m["found"], (s["found"], m["found"])


if __name__ == "__main__":
    main()
