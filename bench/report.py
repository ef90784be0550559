"""Builds the markdown tables of docs/benchmarks.md from the raw results that
bench/run leaves in one folder.

    report.py DIR                              print the tables
    report.py DIR --template T --write FILE    also fill T's {{name}}
                                               placeholders and write FILE

The tables put each ringtrain figure beside its reference and their ratio.
Every placeholder in the template must be one this script computes, so a
typo fails the run instead of leaving a hole in the page.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--template")
ap.add_argument("--write")
args = ap.parse_args()
D = args.dir

MNIST_TRAIN = 60000
CIFAR_TRAIN = 50000


def path(name):
    return os.path.join(D, name)


def load_json(name):
    with open(path(name)) as f:
        return json.load(f)


def go_bench(name):
    """Parses `go test -bench` output into {(name, procs): [{unit: value}]},
    one dict per -count repeat."""
    runs = {}
    line_re = re.compile(r"^(Benchmark\S+)\s+(\d+)\s+(.*)$")
    with open(path(name)) as f:
        for line in f:
            m = line_re.match(line.strip())
            if not m:
                continue
            full, rest = m.group(1), m.group(3).split()
            procs = 1
            suffix = re.search(r"-(\d+)$", full)
            if suffix:
                full, procs = full[: suffix.start()], int(suffix.group(1))
            metrics = {rest[i + 1]: float(rest[i]) for i in range(0, len(rest) - 1, 2)}
            runs.setdefault((full, procs), []).append(metrics)
    if not runs:
        sys.exit(f"report.py: no benchmark lines in {path(name)}: see that file for the failure")
    return runs


def go_config(name, key):
    """Returns the value of a configuration line, "key: value", of
    `go test -bench` output, or None when there is none."""
    with open(path(name)) as f:
        for line in f:
            k, sep, v = line.strip().partition(": ")
            if sep and k == key:
                return v
    return None


def median(runs, unit):
    return statistics.median(r[unit] for r in runs)


def fmt_int(x):
    return f"{x:,.0f}"


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def machine():
    m = {}
    with open(path("machine.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            m[k] = v
    return m


M = machine()
facts = {}
# goal collects the raw figures that the goals tables compare with their
# targets, as the sections below compute them.
goal = {"train": [], "sustained": {}, "ring": {}, "overlap": {}}

# --- Software versions that the reference scripts print about themselves.
torch_probe = load_json("torch_mlp_mnist_t1.json")
blas = torch_probe["blas"]
M["torch"] = torch_probe["torch"]
M["openblas"] = blas.get("openblas_config", "not loaded")
M["openblas_core"] = blas.get("openblas_corename", "n/a")
M["numpy"] = torch_probe["env"]["numpy"]
M["python"] = torch_probe["env"]["python"]

machine_md = "\n".join([
    f"- Date: {M['date']}; ringtrain commit {M['commit']}"
    + (f" with uncommitted changes in {M['changed_files']} files outside bench/." if M["changed_files"] != "0" else "."),
    f"- CPU: {M['cpu_model']}, {M['cpus']} CPUs ({M['threads_per_core']} thread per core), "
    f"AVX-512F {M['avx512f']}, AVX2 {M['avx2']}; hypervisor {M['hypervisor'] or 'none'}.",
    f"- Kernel {M['kernel']}; {M['go']}; gonum {M['gonum']}; grpc-go {M['grpc']}; "
    f"ringtrain built with BLAS {M.get('blas', 'gonum')}.",
    f"- Reference: Python {M['python']}, torch {M['torch']} (Debian's python3-torch), numpy {M['numpy']}, "
    f"{M['openblas']} (kernel {M['openblas_core']}); {M['iperf3']}.",
])

# --- Contention: the CPU time that other processes and the hypervisor took
# during each section.
contention_rows, busy, kept = [], [], {}
with open(path("sections.tsv")) as f:
    for line in f:
        name, attempt, start, waited, wall, other, stolen, verdict = line.rstrip("\n").split("\t")
        kept[name] = (float(other), verdict)
        contention_rows.append([name, attempt, start, waited, wall, f"{other}%", f"{stolen}%"])
busy = [f"{name} ({other:.0f}%)" for name, (other, verdict) in kept.items() if verdict == "busy"]
retried = sorted({row[0] for row in contention_rows if row[1] == "2"})
notes = []
if retried:
    notes.append("Sections measured twice, because other processes took more than the limit during the "
                 "first attempt; the second is kept: " + ", ".join(retried) + ".")
if busy:
    notes.append("Other processes still took more than the limit during the kept attempt of: "
                 + ", ".join(busy) + ". Their figures are low by up to about that share.")
else:
    notes.append("In every kept attempt, other processes took at most "
                 f"{max(o for o, _ in kept.values()):.0f}% of the machine's CPU time.")
ddp_retries = [l.strip() for l in open(path("retries.txt")) if l.strip()]
if ddp_retries:
    notes.append("torch_ddp.py stalled and was run again for: " + "; ".join(f"`{r}`" for r in ddp_retries) + ".")
contention_md = " ".join(notes) + "\n\n" + table(
    ["section", "attempt", "start (UTC)", "waited for quiet, s", "duration, s", "CPU taken by other processes",
     "CPU stolen by the hypervisor"], contention_rows)

# --- Table 1: one training step.
nn = go_bench("nn.txt")
step = go_bench("step.txt")
train_rows = []
for model, key in (("mnist-mlp", "mnist"), ("cifar10-mlp", "cifar")):
    for batch in (64, 256):
        for threads in (1, 2):
            rt = median(step[(f"BenchmarkTrainStepData/{model}/batch={batch}", threads)], "samples/s")
            rand_in = median(nn[(f"BenchmarkTrainStep/{model}/batch={batch}", threads)], "samples/s")
            pt = {t["batch"]: t["samples_per_s_median"] for t in load_json(f"torch_mlp_{key}_t{threads}.json")["train"]}[batch]
            ftz = {t["batch"]: t["samples_per_s_median"] for t in load_json(f"torch_mlp_{key}_t{threads}_ftz.json")["train"]}[batch]
            facts[f"train_{key}_{batch}_t{threads}_ratio"] = ratio(rt, pt)
            facts[f"train_{key}_{batch}_t{threads}"] = fmt_int(rt)
            facts[f"train_{key}_{batch}_t{threads}_random"] = fmt_int(rand_in)
            allocs = median(step[(f"BenchmarkTrainStepData/{model}/batch={batch}", threads)], "allocs/op")
            goal["train"].append((model, batch, threads, rt / ftz, allocs))
            train_rows.append([model, batch, threads, fmt_int(rt), fmt_int(rand_in), fmt_int(pt), fmt_int(ftz),
                               ratio(rt, pt), ratio(rt, ftz), fmt_int(allocs)])
train_md = table(["model", "batch", "threads", "ringtrain samples/s", "ringtrain, random inputs", "PyTorch",
                  "PyTorch, flush-to-zero", "ringtrain / PyTorch", "ringtrain / PyTorch FTZ",
                  "ringtrain allocs/op"], train_rows)


def sustained_section():
    """Returns the table of the sustained cifar10-mlp runs and its facts:
    ringtrain's BenchmarkTrainSustained beside torch_mlp.py --mode accuracy,
    with and without flush-to-zero, for every thread count that bench/run
    measured."""
    rows, found = [], {}
    for name in sorted(os.listdir(D)):
        m = re.fullmatch(r"sustained_t(\d+)\.txt", name)
        if m:
            found[int(m.group(1))] = name
    if not found:
        return "Not measured in this run (`BENCH_SUSTAINED_THREADS` was empty).", {"sustained_epochs": "n/a"}
    out = {}
    for threads in sorted(found):
        go = go_bench(found[threads])[("BenchmarkTrainSustained", threads)][0]
        refs = {}
        for label, suffix in (("plain", ""), ("ftz", "_ftz")):
            r = load_json(f"torch_sustained_t{threads}{suffix}.json")
            epochs = r["epochs"]
            refs[label] = {
                "epochs": len(epochs),
                "whole": CIFAR_TRAIN * len(epochs) / epochs[-1]["cum_train_time_s"],
                "last": epochs[-1]["epoch_samples_per_s"],
                "subnormal_m": 100 * epochs[-1]["subnormal_fraction"]["exp_avg"],
            }
        epochs = refs["ftz"]["epochs"]
        out[f"sustained_t{threads}_ratio"] = ratio(go["samples/s"], refs["ftz"]["whole"])
        goal["sustained"][threads] = (go["samples/s"] / refs["ftz"]["whole"], epochs)
        out["sustained_epochs"] = str(epochs)
        rows.append([threads, epochs, fmt_int(go["samples/s"]), fmt_int(go["last-epoch-samples/s"]),
                     fmt_int(refs["plain"]["whole"]), fmt_int(refs["plain"]["last"]),
                     fmt_int(refs["ftz"]["whole"]), fmt_int(refs["ftz"]["last"]),
                     ratio(go["samples/s"], refs["ftz"]["whole"]),
                     ratio(go["last-epoch-samples/s"], refs["ftz"]["last"]),
                     f"{go['subnormal-m-%']:.1f}% ({go['zero-m-%']:.1f}% zero)",
                     f"{refs['plain']['subnormal_m']:.1f}%"])
    md = table(["threads", "epochs", "ringtrain samples/s", "ringtrain, last epoch", "PyTorch", "PyTorch, last epoch",
                "PyTorch FTZ", "PyTorch FTZ, last epoch", "ringtrain / PyTorch FTZ",
                "last epoch: ringtrain / PyTorch FTZ", "ringtrain: subnormal first moments",
                "PyTorch: subnormal first moments"], rows)
    return md, out


sustained_md, sustained_facts = sustained_section()
facts.update(sustained_facts)

# --- Table 1b: matrix products, with the BLAS that the gemm benchmark
# binary reports it was built with.
gemm = go_bench("gemm.txt")
# Results older than the "blas:" line come from builds that had only gonum.
blas_name = go_config("gemm.txt", "blas") or "gonum"
blas_label = {"openblas": "OpenBLAS", "gonum": "gonum"}.get(blas_name, blas_name)
facts["blas"] = {"openblas": "OpenBLAS (the openblas build tag)", "gonum": "gonum's pure-Go BLAS"}.get(
    blas_name, blas_name)
torch_gemm = {t: {(r["M"], r["K"], r["N"], r["transA"]): r["gflops_median"]
                  for r in load_json(f"gemm_torch_t{t}.json")["results"]} for t in (1, 2)}
gemm_rows = []
shape_order = list(dict.fromkeys(name for name, _ in gemm))
for (name, procs), runs in sorted(gemm.items(), key=lambda kv: (shape_order.index(kv[0][0]), kv[0][1])):
    shape = name.split("/", 1)[1]
    dims = re.search(r"(\d+)x(\d+)x(\d+)$", shape)
    m, k, n = (int(x) for x in dims.groups())
    trans = "-dW-" in shape
    label = shape[: dims.start()].rstrip("-")
    op = f"{m}×{k}ᵀ·{k}×{n}" if trans else f"{m}×{k}·{k}×{n}"
    go_gf = median(runs, "GFLOP/s")
    ob = torch_gemm[procs].get((m, k, n, trans))
    facts[f"gemm_{label}_t{procs}_ringtrain"] = fmt(go_gf, 1)
    facts[f"gemm_{label}_t{procs}_openblas"] = fmt(ob, 1)
    facts[f"gemm_{label}_t{procs}_ratio"] = ratio(go_gf, ob)
    gemm_rows.append([label, op.replace(f"{m}×{k}ᵀ", f"({k}×{m})ᵀ") if trans else op, procs,
                      fmt(go_gf, 1), fmt(ob, 1), ratio(go_gf, ob)])
gemm_md = table(["product", "C = A·B", "threads", f"ringtrain ({blas_label}) GFLOP/s", "OpenBLAS (torch.mm) GFLOP/s",
                 "ringtrain / torch.mm"], gemm_rows)


def pprof_top(name, rows=10):
    """Formats `go tool pprof -top` output as a table of the top functions."""
    lines = open(path(name)).read().splitlines()
    duration = next((l for l in lines if l.startswith("Duration:")), "")
    body, seen = [], False
    for l in lines:
        if re.match(r"^\s+flat\s+flat%", l):
            seen = True
            continue
        if seen and l.strip():
            parts = l.split()
            if len(parts) < 6:
                continue
            fn = " ".join(parts[5:])
            for prefix in ("gonum.org/v1/gonum/", "github.com/ringtrain/ringtrain/", "google.golang.org/"):
                fn = fn.replace(prefix, "")
            body.append([f"`{fn}`", parts[1], parts[4]])
    if not body:
        sys.exit(f"report.py: no profile rows in {path(name)}")
    return f"{duration}\n\n" + table(["function", "flat", "cum"], body[:rows])


def bench_line(name):
    runs = go_bench(name)
    (full, procs), r = next(iter(runs.items()))
    return full, procs, r[0]


# --- Profiles.
_, _, r = bench_line("step_cifar256_profile.txt")
facts["profile_cifar256_samples"] = fmt_int(r["samples/s"])
_, _, r = bench_line("step_mnist64_profile.txt")
facts["profile_mnist64_samples"] = fmt_int(r["samples/s"])
profile_nn_cifar_md = pprof_top("step_cifar256.top")
profile_nn_mnist_md = pprof_top("step_mnist64.top")
profile_cluster_md = pprof_top("cluster.top", 14)
profile_allreduce_md = pprof_top("allreduce.top")

# Cumulative shares of the parts of a cluster step, from `pprof -top -cum`.
CLUSTER_PARTS = [
    ("worker's Step handler, all of it", r"worker\.\(\*Worker\)\.Step$"),
    ("Forward", r"nn\.\(\*Network\)\.Forward$"),
    ("Backward", r"nn\.\(\*Network\)\.Backward$"),
    ("Adam", r"nn\.\(\*Adam\)\.Step$"),
    ("parameter fingerprint (xxHash)", r"tensor\.Fingerprint$"),
    ("ring all-reduce (runRing)", r"allreduce\.runRing"),
    ("coordinator's step", r"coordinator\.\(\*Coordinator\)\.step$"),
    ("gRPC HTTP/2 writer (loopyWriter)", r"transport\.\(\*loopyWriter\)\.run$"),
    ("gRPC HTTP/2 reader", r"transport\.\(\*http2Client\)\.reader$|transport\.\(\*http2Server\)\.HandleStreams$"),
    ("protobuf unmarshal (gRPC codec)", r"encoding/proto\.\(\*codecV2\)\.Unmarshal$"),
    ("gRPC buffer pool Get", r"mem\.\(\*BinaryTieredBufferPool\)\.Get$"),
    ("write system calls", r"^syscall\.write$"),
    ("read system calls", r"^syscall\.read$"),
    ("garbage collector (gcBgMarkWorker)", r"runtime\.gcBgMarkWorker$"),
    ("scheduler (runtime.schedule)", r"runtime\.schedule$"),
]


def pprof_cum(name):
    rows = {}
    for l in open(path(name)).read().splitlines():
        parts = l.split()
        if len(parts) >= 6 and parts[4].endswith("%"):
            fn = " ".join(parts[5:])
            for prefix in ("gonum.org/v1/gonum/", "github.com/ringtrain/ringtrain/internal/", "google.golang.org/grpc/internal/",
                           "google.golang.org/grpc/"):
                if fn.startswith(prefix):
                    fn = fn[len(prefix):]
            rows.setdefault(fn, parts[4])
    out = []
    for label, pattern in CLUSTER_PARTS:
        hit = next(((fn, pct) for fn, pct in rows.items() if re.search(pattern, fn)), None)
        out.append([label, f"`{hit[0]}`" if hit else "not in profile", hit[1] if hit else "0%"])
    return table(["part", "function", "cum"], out)


profile_cluster_cum_md = pprof_cum("cluster_cum.top")

# --- Table 2: the whole system.
system_rows = []
for batch in (64, 256):
    single = median(step[(f"BenchmarkTrainStepData/mnist-mlp/batch={batch}", 2)], "ns/op") / 1e6
    for workers in (1, 2, 3):
        h = load_json(f"system_w{workers}_b{batch}.json")
        epoch = h["history"][0]
        steps = math.ceil(epoch["samples"] / batch)
        step_ms = epoch["seconds"] / steps * 1e3
        compute = statistics.mean(w["compute_seconds"] for w in h["workers"]) * 1e3
        reduce = statistics.mean(w["allreduce_seconds"] for w in h["workers"]) * 1e3
        # The part of the all-reduce that ran during the backward pass is
        # inside the compute time too. Older results have no such field.
        overlap = statistics.mean(w.get("overlap_seconds", 0) for w in h["workers"]) * 1e3
        rest = step_ms - compute - reduce + overlap
        sps = epoch["samples"] / epoch["seconds"]
        ddp = load_json(f"ddp_w{workers}_b{batch}.json")["samples_per_s_median"]
        facts[f"system_w{workers}_b{batch}_samples"] = fmt_int(sps)
        facts[f"system_w{workers}_b{batch}_step_ms"] = fmt(step_ms)
        facts[f"system_w{workers}_b{batch}_other_ms"] = fmt(rest)
        facts[f"system_w{workers}_b{batch}_ratio"] = ratio(sps, ddp)
        system_rows.append([batch, workers, fmt_int(sps), fmt(step_ms), fmt(single),
                            fmt(compute), fmt(reduce), fmt(rest), fmt_int(ddp), ratio(sps, ddp),
                            f"{epoch['test_accuracy']:.3f}"])
    facts[f"single_step_b{batch}_ms"] = fmt(single)
system_md = table(["global batch", "workers", "ringtrain samples/s", "ms/step",
                   "one-process step ms", "worker compute ms", "worker all-reduce ms", "rest ms",
                   "PyTorch DDP samples/s", "ringtrain / DDP", "test accuracy (1000)"], system_rows)
cl = go_bench("cluster.txt")
(_, _), cr = next(iter(cl.items()))
facts["cluster_profile_samples"] = fmt_int(cr[0]["samples/s"])
facts["cluster_profile_step_ms"] = fmt(cr[0]["ms/step"])
cluster_duration = re.search(r"Duration: ([\d.]+)s, Total samples = ([\d.]+)(m?s)", open(path("cluster.top")).read())
wall = float(cluster_duration.group(1))
cpu = float(cluster_duration.group(2)) / (1000 if cluster_duration.group(3) == "ms" else 1)
facts["cluster_profile_cpu_share"] = f"{cpu / (int(M['cpus']) * wall):.0%}"

# --- Table 3: all-reduce.
ar = go_bench("allreduce.txt")
gloo_names = {"340KB": "mnist-model", "7.9MB": "cifar-model", "64MB": "64MiB"}
iperf = {}
for p in (1, 2, 4):
    e = load_json(f"iperf/iperf3_P{p}.json")["end"]
    iperf[p] = e["sum_received"]["bits_per_second"] / 8e9
facts["iperf_1"] = fmt(iperf[1])
facts["iperf_2"] = fmt(iperf[2])
facts["iperf_4"] = fmt(iperf[4])
ar_rows = []
for size in ("340KB", "7.9MB", "64MB"):
    for n in (2, 3, 4):
        runs = ar[(f"BenchmarkAllReduceFloat32/{size}/N={n}", 2)]
        ms = median(runs, "ns/op") / 1e6
        bus = median(runs, "busbw-GB/s")
        g = next(s for s in load_json(f"gloo_w{n}.json")["sizes"] if s["name"].startswith(gloo_names[size]))
        gms, gbus = g["b2b_mean_s"] * 1e3, g["busbw_GBps_b2b"]
        facts[f"ar_{size}_n{n}_ratio"] = ratio(bus, gbus)
        facts[f"ar_{size}_n{n}_busbw"] = fmt(bus)
        facts[f"ar_{size}_n{n}_ms"] = fmt(ms)
        ar_rows.append([size, n, fmt(ms), fmt(bus), fmt(gms), fmt(gbus), fmt(g["median_s"] * 1e3),
                        ratio(bus, gbus), ratio(bus, iperf[1]), fmt_int(median(runs, "allocs/op"))])
allreduce_md = table(["size", "N", "ringtrain ms", "ringtrain busbw GB/s", "gloo ms", "gloo busbw GB/s",
                      "gloo ms, one call after a barrier", "ringtrain / gloo busbw", "ringtrain busbw / iperf3 1 stream",
                      "ringtrain allocs/op"], ar_rows)


def allreduce_processes():
    """Builds the table of the ring with one process per member, as gloo
    runs, beside gloo and iperf3, with a column per target: bus bandwidth
    at least 1.5 times gloo's, at least 0.8 of one iperf3 stream at N = 2,
    340 KB no slower than gloo, and no allocations."""
    procs = go_bench("allreduce_processes.txt")
    rows = []
    for size in ("340KB", "7.9MB", "64MB"):
        for n in (2, 3, 4):
            runs = procs[(f"BenchmarkAllReduceProcesses/{size}/N={n}", 2)]
            ms = median(runs, "ns/op") / 1e6
            bus = median(runs, "busbw-GB/s")
            g = next(s for s in load_json(f"gloo_w{n}.json")["sizes"] if s["name"].startswith(gloo_names[size]))
            gms, gbus = g["b2b_mean_s"] * 1e3, g["busbw_GBps_b2b"]
            facts[f"arp_{size}_n{n}_ratio"] = ratio(bus, gbus)
            facts[f"arp_{size}_n{n}_busbw"] = fmt(bus)
            facts[f"arp_{size}_n{n}_ms"] = fmt(ms)
            facts[f"arp_{size}_n{n}_iperf"] = ratio(bus, iperf[1])
            goal["ring"][(size, n)] = (bus / gbus, bus / iperf[1], gms / ms, median(runs, "member-allocs/op"))
            rows.append([size, n, fmt(ms), fmt(gms), ratio(gms, ms), fmt(bus), fmt(gbus), ratio(bus, gbus),
                         ratio(bus, iperf[1]), fmt(median(runs, "member-allocs/op"), 1),
                         fmt_int(median(runs, "member-B/op"))])
    return table(["size", "N", "ringtrain ms", "gloo ms", "gloo ms / ringtrain ms",
                  "ringtrain busbw GB/s", "gloo busbw GB/s", "ringtrain / gloo busbw",
                  "ringtrain busbw / iperf3 1 stream", "allocs per member and call",
                  "bytes allocated per member and call"], rows)


allreduce_processes_md = allreduce_processes()
iperf_md = (f"iperf3 over 127.0.0.1, 10 s each: {fmt(iperf[1])} GB/s with one TCP stream, "
            f"{fmt(iperf[2])} with two, {fmt(iperf[4])} with four.")

# --- Scaling: the tables that bench/scaling.py wrote to scaling/scaling.json,
# or, where bench/scaling could not run, the reason it gave.
SCALING_TABLES = ("scaling_params", "scaling_validation", "scaling_prediction", "scaling_memory")
SCALING_FACTS = ("scaling_date", "scaling_alpha_us", "scaling_error_plain", "scaling_error_same",
                 "scaling_error_same_median", "scaling_memory_ratio_mnist", "scaling_memory_ratio_cifar10")


def scaling():
    skipped = path("scaling/skipped.txt")
    if os.path.exists(skipped):
        reason = open(skipped).read().strip()
        return {k: f"Not measured: bench/scaling skipped, because {reason}." for k in SCALING_TABLES}, \
            {k: "n/a" for k in SCALING_FACTS}
    result = load_json("scaling/scaling.json")
    return result["tables"], {k: result["facts"].get(k, "n/a") for k in SCALING_FACTS}


scaling_tables, scaling_facts = scaling()
facts.update(scaling_facts)


# --- Overlap of the all-reduce with the backward pass.
def overlap_tables():
    """Returns the overlap table and target table from overlap.txt, and
    adds their figures to facts. Each figure is the median of the rounds."""
    runs = {}
    for (name, _), r in go_bench("overlap.txt").items():
        runs.setdefault(name, []).extend(r)
    rows, target_rows = [], []
    for model in ("mnist-mlp", "cifar10-mlp"):
        sequential = runs[f"BenchmarkOverlap/{model}/overlap=false"]
        overlapped = runs[f"BenchmarkOverlap/{model}/overlap=true"]
        for label, r in (("after backward", sequential), ("overlapped", overlapped)):
            compute, reduce, overlap = (median(r, u) for u in ("compute-ms", "allreduce-ms", "overlap-ms"))
            rows.append([model, label, len(r), fmt(median(r, "ms/step")), fmt(compute), fmt(reduce),
                         fmt(overlap), fmt(compute + reduce - overlap)])
        apart = median(sequential, "compute-ms") + median(sequential, "allreduce-ms")
        step = median(overlapped, "ms/step")
        key = model.split("-")[0]
        facts[f"overlap_{key}_step_ms"] = fmt(step)
        facts[f"overlap_{key}_apart_ms"] = fmt(apart)
        facts[f"overlap_{key}_ratio"] = ratio(step, apart)
        goal["overlap"][model] = (step, apart)
        target_rows.append([model, fmt(step), fmt(median(sequential, "compute-ms")),
                            fmt(median(sequential, "allreduce-ms")), fmt(apart), ratio(step, apart),
                            "yes" if step < apart else "no"])
    overlap_md = table(["model", "all-reduce", "rounds", "ms/step", "worker compute ms", "worker all-reduce ms",
                        "of it overlapped ms", "worker step ms"], rows)
    target_md = table(["model", "overlapped ms/step", "compute ms, apart", "all-reduce ms, apart",
                       "compute + all-reduce ms", "ratio", "below"], target_rows)
    return overlap_md, target_md


overlap_md, overlap_target_md = overlap_tables()

# --- Goals: one table per performance target, each figure beside its
# target, from the sections above.
def verdict(ok):
    return "yes" if ok else "no"


def goals_tables():
    out = {}
    rows = []
    for model, batch, threads, r, _ in goal["train"]:
        target = 1.2 if model == "mnist-mlp" else 1.0
        rows.append([model, batch, threads, "one step", f"{r:.2f}", f"≥ {target}", verdict(r >= target)])
    for threads, (r, epochs) in sorted(goal["sustained"].items()):
        rows.append(["cifar10-mlp", 64, threads, f"{epochs} epochs", f"{r:.2f}", "≥ 1.0", verdict(r >= 1.0)])
    out["goal_train"] = table(["model", "batch", "threads", "measured over", "ringtrain / PyTorch FTZ", "target",
                               "met"], rows)

    rows = []
    for size in ("7.9MB", "64MB"):
        for n in (2, 3, 4):
            r = goal["ring"][(size, n)][0]
            rows.append([f"bus bandwidth / gloo's, {size}", n, f"{r:.2f}", "≥ 1.5", verdict(r >= 1.5)])
    for size in ("7.9MB", "64MB"):
        r = goal["ring"][(size, 2)][1]
        rows.append([f"bus bandwidth / one iperf3 stream, {size}", 2, f"{r:.2f}", "≥ 0.8", verdict(r >= 0.8)])
    for n in (2, 3, 4):
        r = goal["ring"][("340KB", n)][2]
        rows.append(["gloo's time / ringtrain's, 340 KB", n, f"{r:.2f}", "≥ 1.0", verdict(r >= 1.0)])
    out["goal_ring"] = table(["figure (one process per member)", "N", "measured", "target", "met"], rows)

    rows = []
    for model, (step, apart) in goal["overlap"].items():
        rows.append([model, fmt(step), fmt(apart), f"{step / apart:.2f}", "< 1.0", verdict(step < apart)])
    out["goal_overlap"] = table(["model, 3 workers", "overlapped ms/step", "compute + all-reduce ms, apart",
                                 "ratio", "target", "met"], rows)

    rows = []
    for key, label in (("mnist", "mnist-mlp"), ("cifar10", "cifar10-mlp")):
        r = facts.get(f"scaling_memory_ratio_{key}", "n/a")
        ok = r != "n/a" and float(r) <= 2.0
        rows.append([f"peak resident memory / (model state + input buffer), {label}", r, "≤ 2.0", verdict(ok)])
    step_allocs = max(a for *_, a in goal["train"])
    rows.append(["allocations per training step, most of any row above", fmt_int(step_allocs), "0",
                 verdict(step_allocs == 0)])
    for size in ("340KB", "7.9MB"):
        a = goal["ring"][(size, 2)][3]
        rows.append([f"allocations per member and all-reduce, {size}, N = 2", fmt(a, 1), "0", verdict(a == 0)])
    out["goal_memory"] = table(["figure", "measured", "target", "met"], rows)
    return out


goals = goals_tables()

sections = {
    "machine": machine_md,
    "contention": contention_md,
    "train_table": train_md,
    "sustained_table": sustained_md,
    "gemm_table": gemm_md,
    "profile_nn_cifar": profile_nn_cifar_md,
    "profile_nn_mnist": profile_nn_mnist_md,
    "system_table": system_md,
    "profile_cluster": profile_cluster_md,
    "profile_cluster_cum": profile_cluster_cum_md,
    "allreduce_table": allreduce_md,
    "allreduce_processes_table": allreduce_processes_md,
    "iperf": iperf_md,
    "profile_allreduce": profile_allreduce_md,
    **scaling_tables,
}
sections["overlap_table"] = overlap_md
sections["overlap_target"] = overlap_target_md
sections.update(goals)
values = {**sections, **facts}

titles = (("Goal: training speed", "goal_train"), ("Goal: all-reduce", "goal_ring"),
          ("Goal: overlap", "goal_overlap"), ("Goal: memory", "goal_memory"), ("Machine", "machine"), ("Contention", "contention"), ("Training step", "train_table"),
          ("Sustained training, cifar10-mlp", "sustained_table"),
          ("Matrix products", "gemm_table"),
          ("Profile: cifar10-mlp step, batch 256, 1 thread", "profile_nn_cifar"),
          ("Profile: mnist-mlp step, batch 64, 2 threads", "profile_nn_mnist"),
          ("Whole system, one MNIST epoch", "system_table"),
          ("Profile: 3 local workers, batch 64", "profile_cluster"),
          ("Profile: 3 local workers, batch 64, by part", "profile_cluster_cum"),
          ("All-reduce on loopback", "allreduce_table"),
          ("All-reduce on loopback, one process per member", "allreduce_processes_table"),
          ("TCP on loopback", "iperf"),
          ("Profile: all-reduce 7.9 MB, N = 3", "profile_allreduce"),
          ("Scaling model: fitted parameters", "scaling_params"),
          ("Scaling model: validation", "scaling_validation"),
          ("Scaling model: prediction", "scaling_prediction"), ("Worker memory", "scaling_memory"))
titles += (("Overlap of all-reduce and backward, 3 workers", "overlap_table"),
           ("Overlap target, 3 workers", "overlap_target"))
for title, key in titles:
    print(f"## {title}\n\n{sections[key]}\n")

if args.template:
    text = open(args.template).read()
    missing = sorted(set(re.findall(r"\{\{([\w.]+)\}\}", text)) - values.keys())
    if missing:
        sys.exit(f"report.py: template {args.template} uses unknown placeholders {missing}: "
                 f"known are {sorted(values)}")
    text = re.sub(r"\{\{([\w.]+)\}\}", lambda m: values[m.group(1)], text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)
        print(f"report.py: wrote {args.write}", file=sys.stderr)
