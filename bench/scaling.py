"""Fits the step-time model to the runs of bench/scaling, checks it against
the runs under a bandwidth limit, predicts larger clusters and tabulates the
workers' memory.

    scaling.py DIR    print the tables and write them to DIR/scaling.json

The model of one synchronous step of N workers at global batch B is

    t = c0 + c1 * B/N                        compute of one worker's slice
        + 2(N-1)/N * S / min(bw, r)          ring all-reduce, bytes
        + 2(N-1) * alpha                     ring all-reduce, latency
        + B * D / bw                         samples out of the coordinator

with S the gradient's bytes (4 per parameter), D the bytes of one sample,
bw the payload bandwidth of one node's link and r the rate at which the
ring's own code moves bytes. c0 and c1 come from runs with one worker,
alpha from the all-reduce of a tiny network, and r from the all-reduce
of the presets with no limit.
"""
import json
import math
import os
import sys

if len(sys.argv) != 2:
    sys.exit("usage: scaling.py DIR")
D = sys.argv[1]

# TCP payload per byte of a link's rate, for 1500-byte packets that carry
# 1448 bytes of payload after 20 bytes of IP, 20 of TCP and 12 of TCP
# timestamps. tc counts the 14 bytes of the Ethernet header too. A NIC's
# rate also covers the preamble, the frame check sequence and the gap
# between frames, 24 bytes more per frame.
TC_GOODPUT = 1448 / 1514
NIC_GOODPUT = 1448 / 1538
GLOBAL_BATCH = 256
MODELS = (("mnist", "mnist-mlp"), ("cifar10", "cifar10-mlp"))
PREDICT_WORKERS = (8, 32, 128)
PREDICT_GBIT = (10, 25)


def path(name):
    return os.path.join(D, name)


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def pct(x):
    return f"{x:+.0%}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def lstsq2(xs, ys):
    """Returns (a, b) of the least-squares fit y = a*x0 + b*x1, where each
    x is a pair (x0, x1)."""
    s00 = sum(x[0] * x[0] for x in xs)
    s01 = sum(x[0] * x[1] for x in xs)
    s11 = sum(x[1] * x[1] for x in xs)
    t0 = sum(x[0] * y for x, y in zip(xs, ys))
    t1 = sum(x[1] * y for x, y in zip(xs, ys))
    det = s00 * s11 - s01 * s01
    if det == 0:
        sys.exit(f"scaling.py: the runs in {D} do not determine the fit: measure more than one size")
    return (t0 * s11 - t1 * s01) / det, (s00 * t1 - s01 * t0) / det


# --- The runs.
runs = []
with open(path("runs.tsv")) as f:
    for line in f:
        kind, name, dataset, workers, batch, mbit = line.rstrip("\n").split("\t")
        with open(path(name + ".json")) as h:
            status = json.load(h)
        # The second epoch: past the first connections and page faults.
        epoch = status["history"][-1]
        steps = math.ceil(epoch["samples"] / int(batch))
        workers_status = status["workers"]
        runs.append({
            "kind": kind, "name": name, "dataset": dataset, "workers": int(workers), "batch": int(batch),
            "mbit": int(mbit), "step_s": epoch["seconds"] / steps,
            "params": status["params"], "inputs": int(status["model"].split("-")[0]),
            "allreduce_s": sum(w["allreduce_seconds"] for w in workers_status) / len(workers_status),
        })

shape = {}
for r in runs:
    if r["kind"] != "latency":
        # Samples travel as one byte per pixel, the gradient as float32.
        shape[r["dataset"]] = {"grad_bytes": 4 * r["params"], "sample_bytes": r["inputs"], "params": r["params"],
                               "inputs": r["inputs"]}

# --- Fit 1: compute per sample and fixed cost per step, one worker.
fit = {}
for dataset, _ in MODELS:
    pts = [r for r in runs if r["kind"] == "fit" and r["dataset"] == dataset]
    c0, c1 = lstsq2([(1, r["batch"]) for r in pts], [r["step_s"] for r in pts])
    fit[dataset] = {"c0": c0, "c1": c1, "points": pts}


def through_origin(xs, ys):
    """Returns k of the least-squares line y = k*x."""
    return sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)


# --- Fit 2: latency per ring step, from the all-reduce times of a network
# of a few hundred parameters, whose bytes take microseconds.
lat = [r for r in runs if r["kind"] == "latency"]
alpha = through_origin([2 * (r["workers"] - 1) for r in lat], [r["allreduce_s"] for r in lat])

# --- Fit 3: the ring's own cost per byte, from what the workers'
# all-reduce times of the presets at N = 2 with no limit leave after the
# latency. It is the encoding, copying and gRPC work on both ends, which
# the ring overlaps with the transfer, so the slower of the two sets the
# rate. N = 2 is the least contended of the runs.
free = [r for r in runs if r["kind"] == "ring" and r["mbit"] == 0 and r["workers"] == 2]
per_byte_cpu = through_origin([2 * (r["workers"] - 1) / r["workers"] * shape[r["dataset"]]["grad_bytes"] for r in free],
                              [r["allreduce_s"] - 2 * (r["workers"] - 1) * alpha for r in free])
per_byte_cpu = max(per_byte_cpu, 0.0)
ring_rate = 1 / per_byte_cpu if per_byte_cpu > 0 else math.inf


def model(dataset, workers, batch, bw, compute=None):
    """Returns the model's terms in seconds: compute, all-reduce bytes,
    all-reduce latency, samples. bw is a link's payload bandwidth in
    bytes/s, math.inf for no limit, and compute, when given, replaces the
    fitted compute term. With no limit the samples term is 0, because c0
    and c1 already include sending samples between the namespaces."""
    s, f = shape[dataset], fit[dataset]
    if compute is None:
        compute = f["c0"] + f["c1"] * batch / workers
    ring_bytes = 2 * (workers - 1) / workers * s["grad_bytes"] * max(1 / bw, per_byte_cpu)
    latency = 2 * (workers - 1) * alpha
    samples = batch * s["sample_bytes"] / bw
    return compute, ring_bytes, latency, samples


# --- Fitted parameters.
param_rows = []
for dataset, label in MODELS:
    f, s = fit[dataset], shape[dataset]
    resid = max(abs(f["c0"] + f["c1"] * r["batch"] - r["step_s"]) / r["step_s"] for r in f["points"])
    param_rows.append([f"`{label}` c0, fixed cost per step", f"{fmt(f['c0'] * 1e3)} ms",
                       f"one worker at batch {', '.join(str(r['batch']) for r in f['points'])}; "
                       f"largest residual {resid:.0%}"])
    param_rows.append([f"`{label}` c1, compute per sample", f"{fmt(f['c1'] * 1e6)} µs", "same runs"])
    param_rows.append([f"`{label}` S, gradient bytes", f"{s['grad_bytes']:,}", f"{s['params']:,} float32 parameters"])
    param_rows.append([f"`{label}` D, bytes per sample", f"{s['sample_bytes']:,}", "one byte per pixel"])
param_rows.append(["α, latency per ring step", f"{fmt(alpha * 1e6)} µs",
                   "workers' all-reduce time of the network `784-1identity-10` (805 parameters) at N = "
                   + ", ".join(str(r["workers"]) for r in lat)])
param_rows.append(["r, the ring's own processing rate",
                   f"{fmt(ring_rate * 8 / 1e9)} Gbit/s" if ring_rate < math.inf else "n/a",
                   "workers' all-reduce time of both presets at N = 2 with no limit, less the latency"])
param_rows.append(["payload share of a link's rate", f"{TC_GOODPUT:.3f} under tc, {NIC_GOODPUT:.3f} on a NIC",
                   "1448 bytes of TCP payload per 1514-byte frame, and 24 bytes more per frame on the wire"])
params_md = table(["parameter", "value", "source"], param_rows)

# --- Validation: every run of 2 to 4 workers against two forms of the
# model. "N = 1 compute" takes the compute term of the one-worker fit.
# "same-N compute" takes it from the run at the same N with no limit, where
# the workers contend for the same 2 cores as in the limited runs.
valid_rows, errors_plain, errors_same = [], [], []
for dataset, label in MODELS:
    same_n_compute = {}
    for r in sorted((r for r in runs if r["kind"] == "ring" and r["dataset"] == dataset),
                    key=lambda r: (r["workers"], r["mbit"] != 0, -r["mbit"])):
        n = r["workers"]
        bw = r["mbit"] * 1e6 / 8 * TC_GOODPUT if r["mbit"] else math.inf
        terms = model(dataset, n, r["batch"], bw)
        plain = sum(terms)
        if r["mbit"] == 0:
            # What the unlimited run spent outside the modelled
            # communication is this N's compute, contention included.
            same_n_compute[n] = r["step_s"] - sum(terms[1:])
        same = None
        if n in same_n_compute:
            same = sum(model(dataset, n, r["batch"], bw, compute=same_n_compute[n]))
        meas = r["step_s"]
        err_plain = (plain - meas) / meas
        err_same = (same - meas) / meas if same is not None and r["mbit"] else None
        if r["mbit"]:
            errors_plain.append(abs(err_plain))
            errors_same.append(abs(err_same))
        valid_rows.append([
            f"`{label}`", n, f"{r['mbit']:,} Mbit/s" if r["mbit"] else "none", fmt(meas * 1e3),
            fmt(r["allreduce_s"] * 1e3), fmt(sum(terms[1:3]) * 1e3), fmt(terms[3] * 1e3),
            fmt(plain * 1e3), pct(err_plain),
            fmt(same * 1e3) if r["mbit"] else "fit", pct(err_same) if err_same is not None else "",
        ])
validation_md = table(["model", "N", "limit", "measured ms/step", "measured all-reduce ms",
                       "model all-reduce ms", "model samples ms", "model, N = 1 compute, ms", "error",
                       "model, same-N compute, ms", "error"], valid_rows)

# --- Prediction for larger clusters, one worker per machine like this one.
pred_rows = []
for dataset, label in MODELS:
    single_step = sum(model(dataset, 1, GLOBAL_BATCH, math.inf))
    for gbit in PREDICT_GBIT:
        bw = gbit * 1e9 / 8 * NIC_GOODPUT
        for n in PREDICT_WORKERS:
            compute, ring_bytes, latency, samples = model(dataset, n, GLOBAL_BATCH, bw)
            t = compute + ring_bytes + latency + samples
            bound = "wire" if 1 / bw >= per_byte_cpu else "ring code"
            pred_rows.append([f"`{label}`", f"{gbit} Gbit/s", n, GLOBAL_BATCH // n, fmt(compute * 1e3),
                              fmt(ring_bytes * 1e3), bound, fmt(latency * 1e3), fmt(samples * 1e3),
                              fmt(t * 1e3), f"{GLOBAL_BATCH / t:,.0f}", f"{single_step / t:.2f}"])
prediction_md = table(["model", "network", "N", "samples per worker", "compute ms", "all-reduce bytes ms",
                       "bytes limited by",
                       "all-reduce latency ms", "samples ms", "step ms", "samples/s", "speed-up over 1 worker"],
                      pred_rows)

# --- Memory: each worker's resident set against the bytes it must keep.
# Its model state is the parameters, the gradient and Adam's two moments.
# There is no separate copy of the committed parameters, because a worker
# applies a step's summed gradient only when the step commits. Its decoded
# input buffer has max(batch, 256) rows of float32.
memory = {}
with open(path("memory.tsv")) as f:
    for line in f:
        name, _, rss, hwm, anon, file_kib = line.rstrip("\n").split("\t")
        memory.setdefault(name, []).append((int(rss), int(hwm), int(anon), int(file_kib)))
mem_rows, peak_ratio = [], {}
for dataset, label in MODELS:
    s = shape[dataset]
    state = 4 * 4 * s["params"]
    for r in runs:
        if r["dataset"] != dataset or r["mbit"] != 0 or r["batch"] != GLOBAL_BATCH or r["kind"] == "latency":
            continue
        buffer = max(r["batch"], 256) * s["inputs"] * 4
        rows = memory[r["name"]]
        rss = max(m[0] for m in rows) * 1024
        hwm = max(m[1] for m in rows) * 1024
        anon = max(m[2] for m in rows) * 1024
        file_bytes = max(m[3] for m in rows) * 1024
        ratio = hwm / (state + buffer)
        peak_ratio[dataset] = max(peak_ratio.get(dataset, 0), ratio)
        mem_rows.append([f"`{label}`", r["workers"], fmt(state / 2**20), fmt(buffer / 2**20),
                         fmt(rss / 2**20), fmt(hwm / 2**20), fmt(anon / 2**20), fmt(file_bytes / 2**20),
                         f"{ratio:.1f}"])
memory_md = table(["model", "N", "model state MiB", "input buffer MiB", "VmRSS MiB", "VmHWM MiB",
                   "RssAnon MiB", "RssFile MiB", "VmHWM / (state + buffer)"], mem_rows)

facts = {"scaling_alpha_us": fmt(alpha * 1e6)}
facts["scaling_error_plain"] = f"{max(errors_plain):.0%}" if errors_plain else "n/a"
facts["scaling_error_same"] = f"{max(errors_same):.0%}" if errors_same else "n/a"
facts["scaling_error_same_median"] = (f"{sorted(errors_same)[len(errors_same) // 2]:.0%}"
                                      if errors_same else "n/a")
for dataset, r in peak_ratio.items():
    facts[f"scaling_memory_ratio_{dataset}"] = f"{r:.1f}"
with open(path("date.txt")) as f:
    facts["scaling_date"] = f.read().strip()

tables = {
    "scaling_params": params_md,
    "scaling_validation": validation_md,
    "scaling_prediction": prediction_md,
    "scaling_memory": memory_md,
}
for title, key in (("Fitted parameters", "scaling_params"), ("Validation", "scaling_validation"),
                   ("Prediction, global batch 256", "scaling_prediction"), ("Worker memory", "scaling_memory")):
    print(f"## {title}\n\n{tables[key]}\n")
with open(path("scaling.json"), "w") as f:
    json.dump({"tables": tables, "facts": facts}, f, indent=1)
