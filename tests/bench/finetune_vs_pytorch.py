#!/usr/bin/python3
"""An oracle for `nnprune finetune`: the same start trained by PyTorch.

Each MODEL (dense or sparse, any format nnprune reads) is fine-tuned twice
with the same recipe: by `nnprune finetune MODEL TRAIN -j 1 --seed S` and by
PyTorch here (Adam, lr decayed every step by lr * (1 + cos(pi (t-1) / T)) / 2
over the T steps of the run, batch 64 with the last one partial, the rows
reshuffled every epoch, the mean cross-entropy of the batch, the zero weights
kept at zero by masking their gradients, training on the inputs times the
scale the model's provenance records, folded back into layer 0 afterwards).
Both results are evaluated on the test rows; the shuffles differ (PyTorch's
generator against nnprune's), so compare the spread over seeds, not single
runs.

usage: finetune_vs_pytorch.py NNPRUNE TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES
           TEST_LABELS MODEL... [--epochs N] [--lr X] [--seeds 0,1] [--batch B]
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch


def idx(path):
    """An IDX file (plain or gzip) as a numpy array."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def input_scale(prov):
    """The input_scale the provenance (or one it continues) records; 1 if none."""
    while isinstance(prov, dict):
        if isinstance(prov.get("input_scale"), (int, float)) and prov["input_scale"] > 0:
            return float(prov["input_scale"])
        prov = prov.get("previous")
    return 1.0


def load(nnp, path, tmp):
    """The model's layers as dense (W [out, in], b, activation), and its scale."""
    js = os.path.join(tmp, "model.json")
    subprocess.run([nnp, "convert", path, js], check=True)
    doc = json.load(open(js))
    layers = []
    for L in doc["layers"]:
        n_out = len(L["bias"])
        if "weights_csr" in L:
            c = L["weights_csr"]
            n_in = doc["input_size"] if not layers else layers[-1][0].shape[0]
            W = np.zeros((n_out, n_in), dtype=np.float32)
            for r in range(n_out):
                lo, hi = c["row_ptr"][r], c["row_ptr"][r + 1]
                W[r, c["cols"][lo:hi]] = c["values"][lo:hi]
        else:
            W = np.array(L["weights"], dtype=np.float32)
        layers.append((W, np.array(L["bias"], dtype=np.float32), L["activation"]))
    return layers, input_scale(doc.get("metadata", {}).get("provenance"))


def forward(params, acts, x):
    h = x
    for (W, b), act in zip(params, acts):
        h = h @ W.T + b
        if act == "relu":
            h = torch.relu(h)
        elif act not in ("softmax", "linear"):
            raise SystemExit(f"activation {act}: not in this oracle")
    return h   # logits: the softmax is in the loss


def torch_finetune(layers, scale, x, y, xt, yt, epochs, lr, batch, seed):
    torch.manual_seed(seed)
    params, masks = [], []
    for li, (W, b, _) in enumerate(layers):
        W = torch.tensor(W / scale if li == 0 else W)   # train on scaled inputs
        params.append((W.requires_grad_(), torch.tensor(b).requires_grad_()))
        masks.append((W != 0).float())
    acts = [a for _, _, a in layers]
    flat = [p for pair in params for p in pair]
    opt = torch.optim.Adam(flat, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    n = x.shape[0]
    per_epoch = math.ceil(n / batch)
    total = epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / total)))
    g = torch.Generator().manual_seed(seed)
    xs = x * scale
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(per_epoch):
            i = perm[s * batch:(s + 1) * batch]
            loss = torch.nn.functional.cross_entropy(forward(params, acts, xs[i]), y[i])
            opt.zero_grad()
            loss.backward()
            for (W, _), mk in zip(params, masks):
                W.grad.mul_(mk)
            opt.step()
            sched.step()
    with torch.no_grad():
        return (forward(params, acts, xt * scale).argmax(1) == yt).float().mean().item()


def nnprune_finetune(nnp, path, a, seed, tmp):
    out = os.path.join(tmp, f"ft-{seed}.bin")
    subprocess.run([nnp, "finetune", path, a.train_images, "--labels", a.train_labels,
                    "--epochs", str(a.epochs), "--lr", str(a.lr), "--batch", str(a.batch),
                    "--seed", str(seed), "-j", "1", "-q", "-o", out], check=True)
    r = subprocess.run([nnp, "eval", out, a.test_images, "--labels", a.test_labels, "--json"],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout)["accuracy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("nnprune", "train_images", "train_labels", "test_images", "test_labels"):
        ap.add_argument(name)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seeds", default="0,1")
    a = ap.parse_args()
    torch.set_num_threads(1)
    x = torch.tensor(idx(a.train_images).reshape(-1, 784), dtype=torch.float32)
    y = torch.tensor(idx(a.train_labels), dtype=torch.long)
    xt = torch.tensor(idx(a.test_images).reshape(-1, 784), dtype=torch.float32)
    yt = torch.tensor(idx(a.test_labels), dtype=torch.long)
    seeds = [int(s) for s in a.seeds.split(",")]
    print("| model | seed | nnprune | PyTorch | PyTorch - nnprune |")
    print("|---|---:|---:|---:|---:|")
    for path in a.models:
        with tempfile.TemporaryDirectory() as tmp:
            layers, scale = load(a.nnprune, path, tmp)
            accs = []
            for s in seeds:
                n_acc = nnprune_finetune(a.nnprune, path, a, s, tmp)
                t_acc = torch_finetune(layers, scale, x, y, xt, yt, a.epochs, a.lr, a.batch, s)
                accs.append((n_acc, t_acc))
                print(f"| {os.path.basename(path)} | {s} | {100 * n_acc:.2f}% | "
                      f"{100 * t_acc:.2f}% | {100 * (t_acc - n_acc):+.2f} |", flush=True)
            mn = sum(v[0] for v in accs) / len(accs)
            mt = sum(v[1] for v in accs) / len(accs)
            print(f"| {os.path.basename(path)} | mean | {100 * mn:.2f}% | {100 * mt:.2f}% | "
                  f"{100 * (mt - mn):+.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
