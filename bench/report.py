#!/usr/bin/env python3
"""bench/report.py: turns one run of bench/run.sh into the committed report.

    report.py --work bench/.work --out bench/results

Reads <work>/raw.jsonl (one object per measurement, written by run.sh), meta.env,
commands.txt and rss-<broker>.txt, and writes <out>/<date>[-quick].md, the same data
as .json, and <date>[-quick]-latency.png (the latency distributions, drawn by gnuplot
when it is installed). Every metric is reported per broker as the median over the
repetitions with the spread (min-max), and as the ratio Skiff / Kafka of the medians.
Standard library only. A measurement that failed (loadgen exit status not 0) is left
out of the medians and listed under "Failed runs"."""

import argparse
import collections
import datetime
import json
import os
import shutil
import statistics
import subprocess

BROKERS = ("skiff", "kafka")


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def read_raw(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def stat(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values), "values": values}


def ok_runs(raw, broker, phase):
    return [r for r in raw if r["broker"] == broker and r["phase"] == phase
            and r.get("rc") == 0 and r.get("result")]


def produce_metrics(raw, metrics):
    for size in (100, 1024):
        for acks in ("1", "all"):
            for codec in ("none", "lz4"):
                per = {}
                for b in BROKERS:
                    rr = [r for r in ok_runs(raw, b, "produce")
                          if r["result"]["size"] == size and r["result"]["acks"] == acks
                          and r["result"]["codec"] == codec]
                    runs = [r["result"] for r in rr]
                    per[b] = (stat([x["mb_per_s"] for x in runs]),
                              stat([x["records_per_s"] for x in runs]), cpu_share(rr))
                label = "%s B" % size if size == 100 else "1 KiB"
                metrics.append(metric(
                    "produce %s, acks=%s, %s" % (label, acks, codec), "MB/s", "higher",
                    {b: per[b][0] for b in BROKERS},
                    extra={b: per[b][1] for b in BROKERS},
                    cpu={b: per[b][2] for b in BROKERS}))


def consume_metrics(raw, metrics):
    per, rec, cpu = {}, {}, {}
    for b in BROKERS:
        rr = ok_runs(raw, b, "consume")
        runs = [r["result"] for r in rr]
        per[b] = stat([x["mb_per_s"] for x in runs])
        rec[b] = stat([x["records_per_s"] for x in runs])
        cpu[b] = cpu_share(rr)
    metrics.append(metric("consume 1 KiB from page cache", "MB/s", "higher", per,
                          extra=rec, cpu=cpu))


def cpu_share(runs):
    """median share of one CPU the broker used during these runs (1.0 = saturated)"""
    shares = [r["cpu_s"] / r["result"]["seconds"] for r in runs
              if r["result"].get("seconds")]
    return statistics.median(shares) if shares else None


def latency_metrics(raw, metrics):
    for key, name in (("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")):
        per = {}
        for b in BROKERS:
            runs = [r["result"] for r in ok_runs(raw, b, "e2e")]
            per[b] = stat([x[key] / 1000.0 for x in runs])
        metrics.append(metric("end-to-end latency %s" % name, "ms", "lower", per))


def cpu_per_gb(raw, broker, phases):
    """per repetition: broker CPU seconds / GB of record payload over those phases"""
    reps = {}
    for r in raw:
        if r["broker"] != broker or r["phase"] not in phases or r.get("rc") != 0:
            continue
        res = r.get("result") or {}
        nbytes = res.get("bytes", 0)
        acc = reps.setdefault(r["rep"], [0.0, 0])
        acc[0] += r["cpu_s"]
        acc[1] += nbytes
    return [c / (n / 1e9) for c, n in reps.values() if n > 0]


def resource_metrics(raw, work, metrics):
    peak, steady, idle, cpu_p, cpu_c, cpu_t = {}, {}, {}, {}, {}, {}
    for b in BROKERS:
        idle_kb = [r["rss_kb"] for r in raw if r["broker"] == b and r["phase"] == "idle" and r.get("rss_kb")]
        idle[b] = stat([idle_kb[0] / 1024.0]) if idle_kb else None
        hwm = [r.get("hwm_kb") or 0 for r in raw if r["broker"] == b and "hwm_kb" in r]
        peak[b] = stat([max(hwm) / 1024.0]) if hwm else None
        samples = []
        path = os.path.join(work, "rss-%s.txt" % b)
        if os.path.exists(path):
            with open(path) as f:
                samples = [int(x) / 1024.0 for x in f.read().split() if x.isdigit()]
        steady[b] = stat([statistics.median(samples)]) if samples else None
        cpu_p[b] = stat(cpu_per_gb(raw, b, ("produce",)))
        cpu_c[b] = stat(cpu_per_gb(raw, b, ("consume",)))
        cpu_t[b] = stat(cpu_per_gb(raw, b, ("produce", "consume")))
    metrics.append(metric("broker RSS, idle (fresh start, no topics, after 5 s)", "MB", "lower", idle))
    metrics.append(metric("broker RSS, peak (VmHWM)", "MB", "lower", peak))
    metrics.append(metric("broker RSS, steady (median during the latency runs)", "MB",
                          "lower", steady))
    metrics.append(metric("broker CPU per GB produced", "s/GB", "lower", cpu_p))
    metrics.append(metric("broker CPU per GB consumed", "s/GB", "lower", cpu_c))
    metrics.append(metric("broker CPU per GB moved (produce + consume)", "s/GB", "lower",
                          cpu_t))


def startup_metrics(raw, metrics):
    meta_t, fetch_t, size = {}, {}, {}
    for b in BROKERS:
        runs = [r for r in raw if r["broker"] == b and r["phase"] == "startup"
                and r.get("result")]
        good = [r for r in runs if r["result"]["t_fetch"] > 0]
        meta_t[b] = stat([r["result"]["t_metadata"] - r["t_launch"] for r in good])
        fetch_t[b] = stat([r["result"]["t_fetch"] - r["t_launch"] for r in good])
        size[b] = max([r["log_bytes"] for r in runs], default=0)
    gb = " / ".join("%s %.1f GB" % (b, size[b] / 1e9) for b in BROKERS)
    metrics.append(metric("start-up to Metadata (%s on disk)" % gb, "s", "lower", meta_t))
    metrics.append(metric("start-up to first fetch served", "s", "lower", fetch_t))


def metric(name, unit, better, per, extra=None, cpu=None):
    m = {"name": name, "unit": unit, "better": better, "skiff": per.get("skiff"),
         "kafka": per.get("kafka"), "ratio": None}
    if extra:
        m["records_per_s"] = extra
    if cpu:
        m["broker_cpu_share"] = cpu
    if m["skiff"] and m["kafka"] and m["kafka"]["median"]:
        m["ratio"] = m["skiff"]["median"] / m["kafka"]["median"]
    return m


def fmt_num(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_cell(s, rec=None, cpu=None):
    if s is None:
        return "n/a"
    cell = fmt_num(s["median"])
    if s["n"] > 1:
        cell += " (%s-%s)" % (fmt_num(s["min"]), fmt_num(s["max"]))
    if rec:
        cell += "; %.0fk rec/s" % (rec["median"] / 1000.0)
    if cpu is not None:
        cell += "; broker CPU %.0f%%" % (cpu * 100)
    return cell


def fmt_ratio(m):
    if m["ratio"] is None:
        return "n/a"
    r = m["ratio"]
    good = r > 1 if m["better"] == "higher" else r < 1
    return "%.2fx%s" % (r, "" if abs(r - 1) < 0.05 else (" (better)" if good else " (worse)"))


def pick_median_e2e(raw, broker):
    runs = sorted((r["result"] for r in ok_runs(raw, broker, "e2e")),
                  key=lambda x: x["p99_us"])
    return runs[len(runs) // 2] if runs else None


def draw_chart(raw, png, work):
    """latency by percentile on a 'nines' axis, one line per broker (median run)"""
    if not shutil.which("gnuplot"):
        return False
    plots = []
    for b in BROKERS:
        run = pick_median_e2e(raw, b)
        if not run:
            continue
        dat = os.path.join(work, "lat-%s.dat" % b)
        with open(dat, "w") as f:
            for p, us in run["dist"]:
                if p < 100 and us >= 0:
                    x = -__import__("math").log10(1 - p / 100.0) if p > 0 else 0
                    f.write("%.4f %.4f\n" % (x, us / 1000.0))
        plots.append("'%s' using 1:2 with linespoints lw 2 title '%s'" % (dat, b))
    if not plots:
        return False
    script = "\n".join([
        "set terminal png size 900,540",
        "set output '%s'" % png,
        "set title 'End-to-end latency by percentile (median run, 1 KiB, acks=all)'",
        "set xlabel 'percentile'", "set ylabel 'latency (ms, log scale)'",
        "set logscale y", "set grid",
        "set xtics ('0%%' 0, '90%%' 1, '99%%' 2, '99.9%%' 3, '99.99%%' 4, '99.999%%' 5)",
        "set key top left",
        "plot " + ", ".join(plots), ""])
    res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    return res.returncode == 0 and os.path.exists(png)


def write_md(path, meta, metrics, raw, commands, png_name):
    quick = meta.get("quick") == "1"
    L = []
    L.append("# Skiff vs Apache Kafka: benchmark of %s%s" %
             (meta.get("time_before", "?")[:10], " (quick smoke run)" if quick else ""))
    L.append("")
    L.append("Measured commit `%s`%s, %s to %s (UTC), with `bench/run.sh%s`." % (
        meta.get("commit", "?"),
        " (with uncommitted changes under src/)" if meta.get("dirty", "0") != "0" else "",
        meta.get("time_before", "?"), meta.get("time_after", "?"),
        " --quick" if quick else ""))
    L.append("")
    L.append("## Conditions")
    L.append("")
    L.append("- Machine: %s, %s cores, %s GB RAM, %s." % (
        meta.get("cpu"), meta.get("cores"), meta.get("mem_gb"), meta.get("kernel")))
    L.append("- Load average (1/5/15 min) before: %s; after: %s." % (
        meta.get("load_before"), meta.get("load_after")))
    L.append("- Broker pinned to CPU 0 (`taskset -c 0`), load generator to CPU 1 "
             "(`taskset -c 1`); Skiff first, then Kafka, never both at once.")
    L.append("- Versions: skiffd at the commit above (Release build); Apache Kafka %s "
             "(KRaft, single node, `interop/kafka-ref.sh`, heap -Xmx1G -Xms1G, G1); %s; "
             "load generator `bench/loadgen.c` on librdkafka %s." % (
                 meta.get("kafka"), meta.get("java"), meta.get("librdkafka")))
    L.append("- Repetitions: %s per measurement; cells show the median and (min-max)." %
             meta.get("reps"))
    L.append("")
    L.append("## Results")
    L.append("")
    L.append("Ratio = Skiff / Kafka of the medians; \"better\" means better for Skiff. "
             "\"broker CPU\" is the median share of its one CPU the broker used during "
             "the runs: well under 100% means the load generator (one librdkafka "
             "client on the other CPU), not the broker, set the pace.")
    L.append("")
    L.append("| metric | unit | Skiff | Kafka | Skiff/Kafka | better is |")
    L.append("| --- | --- | --- | --- | --- | --- |")
    for m in metrics:
        rec = m.get("records_per_s") or {}
        cpu = m.get("broker_cpu_share") or {}
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            m["name"], m["unit"], fmt_cell(m["skiff"], rec.get("skiff"), cpu.get("skiff")),
            fmt_cell(m["kafka"], rec.get("kafka"), cpu.get("kafka")), fmt_ratio(m),
            m["better"]))
    L.append("")
    e2e = {b: pick_median_e2e(raw, b) for b in BROKERS}
    if any(e2e.values()):
        L.append("Latency runs: %s records/s of 1 KiB offered to both brokers; median run "
                 "sent/received: %s." % (meta.get("e2e_rate"), ", ".join(
                     "%s %s/%s" % (b, e["sent"], e["received"])
                     for b, e in e2e.items() if e)))
        L.append("")
    if png_name:
        L.append("![latency distributions](%s)" % png_name)
        L.append("")
    failed = [r for r in raw if r.get("rc") not in (0, None)]
    if failed:
        L.append("## Failed runs")
        L.append("")
        for r in failed:
            L.append("- %s %s rep %s: exit %s, %s" % (
                r["broker"], r["phase"], r["rep"], r["rc"],
                json.dumps({k: v for k, v in (r.get("result") or {}).items()
                            if k != "dist"})))
        L.append("")
    L.append("## Method")
    L.append("")
    L.append(METHOD % collections.defaultdict(lambda: "?", meta))
    L.append("")
    L.append("## Exact commands")
    L.append("")
    L.append("```sh")
    L.extend(commands)
    L.append("```")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


METHOD = """\
- Produce: each run writes a fresh 4-partition topic (created with the admin API,
  deleted afterwards): %(n_100)s records of 100 B or %(n_1k)s records of 1 KiB, null
  keys, librdkafka defaults except linger.ms=5, batch.size=1000000, idempotence off.
  Payloads are slices of a pool of log-like text, so lz4 compresses them about 2-3x.
  Throughput = acknowledged payload bytes / time from the first send to the last
  delivery report. MB = 10^6 bytes.
- Consume: %(n_consume)s records of 1 KiB written once, then read REPS times from the
  beginning of all partitions (assign, no group) right after, so from page cache.
- Latency: one process produces at a fixed %(e2e_rate)s records/s (half the lower of the
  two brokers' median peak for 1 KiB, acks=all, none; the same offered load for both)
  for %(e2e_s)s s with linger.ms=%(e2e_linger_ms)s, and consumes the same topic on
  another thread. Each record carries the time it was due to be sent; latency = time
  read - time due (so a stalled producer cannot hide latency), without the first
  %(e2e_warmup_s)s s. Producer and consumer share CPU 1.
- CPU: utime+stime of the broker process from /proc/<pid>/stat, the difference over
  each run, divided by the record payload bytes of that run (compressed runs move
  fewer bytes on the wire). RSS: VmRSS of a fresh broker with no topics 5 s after it
  first answered (idle), VmHWM (peak over the process's life, the larger of the two
  passes) and the median of VmRSS sampled every 0.5 s during the latency runs.
- Start-up: %(log_gb)s GB of 1 KiB records (no compression) written with acks=1, the
  broker stopped with SIGTERM, then started again on the same data while a probe
  client retries Metadata until every partition has a leader, then fetches one record
  from offset 0. Times are from launching the broker process (for Kafka: the JVM).
- Noise: the machine has 2 cores and other work was running on it during the
  measurement (see the load averages above); differences under ~10-20%% are within the
  noise of this setup."""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    meta = read_meta(os.path.join(args.work, "meta.env"))
    raw = read_raw(os.path.join(args.work, "raw.jsonl"))
    with open(os.path.join(args.work, "commands.txt")) as f:
        commands = [c.rstrip("\n") for c in f]
    metrics = []
    produce_metrics(raw, metrics)
    consume_metrics(raw, metrics)
    latency_metrics(raw, metrics)
    resource_metrics(raw, args.work, metrics)
    startup_metrics(raw, metrics)
    day = (meta.get("time_before") or datetime.date.today().isoformat())[:10]
    base = day + ("-quick" if meta.get("quick") == "1" else "")
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, base + "-latency.png")
    png_ok = draw_chart(raw, png, args.work)
    with open(os.path.join(args.out, base + ".json"), "w") as f:
        json.dump({"meta": meta, "metrics": metrics, "commands": commands, "raw": raw},
                  f, indent=1)
    md = os.path.join(args.out, base + ".md")
    write_md(md, meta, metrics, raw, commands, os.path.basename(png) if png_ok else None)
    print("bench: report %s" % md)


if __name__ == "__main__":
    main()
