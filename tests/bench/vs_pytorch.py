#!/usr/bin/python3
"""Side by side: `nnprune stats` and `nnprune sweep` as whole processes against
what a PyTorch/NumPy user would run in-process for the same work (interpreter
start and imports not counted, as the speed targets are stated).

    python3 tests/bench/vs_pytorch.py NNPRUNE MODEL.json DATA.csv [RUNS]

MODEL.json: an nnprune JSON model (784-512-256-128-10 for the stated targets);
DATA.csv: label first, one row per image (e.g. the 10,000 Fashion-MNIST test
images). Each figure is the median of RUNS (default 5) runs, the two sides
interleaved so that a busy moment of a shared machine hits both. Prints one
line per figure and the ratios (PyTorch time / nnprune time).

The PyTorch side of `stats`: json.load of the model, np.loadtxt of the CSV,
forward in torch (float32, 2 threads) and per-neuron mean/std/min/max/zeros.
The PyTorch side of the sweep: the same, then for each of the 30 default
(mean, std) pairs the kept set, the fold of removed neurons into the next bias,
the evaluation of the slimmed model and its JSON file written; like
`nnprune sweep`, a kept set already seen is evaluated and written once.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

MEANS = [0, 0.05, 0.1, 0.2, 0.5, 1]
STDS = [0.1, 0.2, 0.4, 0.6, 1]
ACTS = {"relu": torch.relu, "linear": lambda x: x, "tanh": torch.tanh,
        "sigmoid": torch.sigmoid, "softmax": lambda x: torch.softmax(x, 1)}


def load(model_path, data_path):
    with open(model_path) as f:
        doc = json.load(f)
    layers = [(torch.tensor(L["weights"], dtype=torch.float32),
               torch.tensor(L["bias"], dtype=torch.float32), L["activation"])
              for L in doc["layers"]]
    a = np.loadtxt(data_path, delimiter=",", dtype=np.float32,
                   skiprows=1 if not open(data_path).read(1).isdigit() else 0)
    return doc, layers, torch.from_numpy(a[:, 1:]), torch.from_numpy(a[:, 0]).long()


def stats(layers, x):
    out, h = [], x
    for W, b, act in layers[:-1]:
        h = ACTS[act](h @ W.T + b)
        out.append((h.mean(0), h.std(0, unbiased=False), h.min(0).values, h.max(0).values,
                    (h == 0).sum(0)))
    return out


def accuracy(layers, x, y):
    h = x
    for W, b, act in layers:
        h = ACTS[act](h @ W.T + b)
    return (h.argmax(1) == y).float().mean().item()


def torch_stats(model_path, data_path):
    t0 = time.perf_counter()
    _, layers, x, _ = load(model_path, data_path)
    with torch.no_grad():
        stats(layers, x)
    return time.perf_counter() - t0


def torch_sweep(model_path, data_path, out_dir):
    t0 = time.perf_counter()
    doc, layers, x, y = load(model_path, data_path)
    with torch.no_grad():
        st = stats(layers, x)
        accuracy(layers, x, y)
        seen = set()
        for m in MEANS:
            for s in STDS:
                keeps = [((mu.abs() > m) | (sd > s)) for mu, sd, *_ in st]
                key = tuple(bytes(k.numpy()) for k in keeps)
                if key in seen:
                    continue
                seen.add(key)
                new = []
                for i, (W, b, act) in enumerate(layers):
                    if i > 0:
                        k, mu = keeps[i - 1], st[i - 1][0]
                        b = b + W[:, ~k] @ mu[~k]
                        W = W[:, k]
                    if i < len(keeps):
                        W, b = W[keeps[i]], b[keeps[i]]
                    new.append((W, b, act))
                accuracy(new, x, y)
                d = dict(doc, layers=[{"weights": W.tolist(), "bias": b.tolist(),
                                       "activation": a} for W, b, a in new])
                with open(os.path.join(out_dir, "m%g-s%g.json" % (m, s)), "w") as f:
                    json.dump(d, f)
    return time.perf_counter() - t0


def wall(cmd, cwd):
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    nnp, model, data = (os.path.abspath(a) for a in sys.argv[1:4])
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    torch.set_num_threads(2)
    work = tempfile.mkdtemp(prefix="vs_pytorch.")
    t = {k: [] for k in ("torch_stats", "nnp_stats", "torch_sweep", "nnp_sweep")}
    try:
        for _ in range(runs):
            t["torch_stats"].append(torch_stats(model, data))
            t["nnp_stats"].append(wall([nnp, "stats", model, data, "-o", "s.json", "-q"], work))
            d = tempfile.mkdtemp(dir=work)
            t["torch_sweep"].append(torch_sweep(model, data, d))
            t["nnp_sweep"].append(wall([nnp, "stats", model, data, "-o", "s.json", "-q"], work)
                                  + wall([nnp, "sweep", "--stats", "s.json", "-o", "out",
                                          "--format", "json", "-q"], work))
    finally:
        shutil.rmtree(work)
    med = {k: statistics.median(v) for k, v in t.items()}
    for k in t:
        print("%-12s median %.3f s  (min %.3f, max %.3f, %d runs)"
              % (k, med[k], min(t[k]), max(t[k]), runs))
    print("stats ratio (PyTorch / nnprune): %.2fx" % (med["torch_stats"] / med["nnp_stats"]))
    print("stats + sweep ratio (PyTorch / nnprune): %.2fx"
          % (med["torch_sweep"] / med["nnp_sweep"]))


if __name__ == "__main__":
    main()
