#!/usr/bin/env python3
"""report.py RAW OUT -- turn bench/run.sh's raw files into one table.

Prints the table on stdout and writes OUT.json and OUT.csv.  Every latency
figure is computed here from the per-sample lines; nothing is estimated
except the 60 s cron row, which is the model (uniform wait over the period)
and is labelled so."""
import csv
import json
import os
import statistics
import sys


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def lat_rows(raw, n):
    rows = {}
    for name in ("floor-react", "floor-restart", "inotify-react",
                 "agent-react", "agent-react-keep", "agent-react-burst",
                 "agent-restart", "agent-restart-noprogress", "cron1s"):
        f = os.path.join(raw, "%s-%s.tsv" % (name, n))
        if not os.path.exists(f):
            continue
        ok, miss = [], 0
        for line in open(f):
            p = line.rstrip("\n").split("\t")
            if len(p) < 5:
                continue
            if p[4] == "ok":
                ok.append(int(p[3]) / 1e6)
            else:
                miss += 1
        rows[name] = {"samples": len(ok) + miss, "misses": miss,
                      "p50_ms": pct(ok, 50), "p99_ms": pct(ok, 99),
                      "max_ms": max(ok) if ok else None}
    return rows


WRITER_ROWS = (("agent-react", "close"), ("agent-react-keep", "keep"),
               ("agent-react-burst", "burst"))


def ref_floor(raw, n):
    """ROW -> the reference floor run just before it (issue 14), in ms."""
    out = {}
    f = os.path.join(raw, "reffloor-%s" % n)
    if not os.path.exists(f):
        return out
    for line in open(f):
        p = line.split()
        if len(p) < 3:
            continue
        kv = dict(x.split("=", 1) for x in p[2:] if "=" in x)
        if "p50" not in kv:
            continue
        ms = lambda k: int(kv[k].rstrip("us")) / 1000.0
        out[p[0]] = {"samples": int(p[1]), "misses": int(p[1]) - int(kv["n"]),
                     "p50_ms": ms("p50"), "p99_ms": ms("p99"),
                     "max_ms": ms("max")}
    return out


def pooled_floor(raw, ns):
    """The median p50 and p99 of every reference floor run of the command.

    The floor does not depend on N, and its own p50 moves by ~0.5 ms from
    one run to the next on a VM: a row's ratio to the one run before it
    is decided mostly by which run it drew.  This is a second column."""
    runs = [r for n in ns for r in ref_floor(raw, n).values()]
    if not runs:
        return None
    med = statistics.median
    return {"runs": len(runs), "p50_ms": med([r["p50_ms"] for r in runs]),
            "p99_ms": med([r["p99_ms"] for r in runs])}


def agent_cpu(raw, n):
    """ROW -> (load at its start, agent + workers CPU ticks over it)."""
    out, start = {}, {}
    f = os.path.join(raw, "agent-cpu-%s" % n)
    if not os.path.exists(f):
        return out
    for line in open(f):
        p = line.split()
        if len(p) == 2 and p[0] == "workers_rss":
            out["workers_rss_kib"] = int(p[1])
        elif len(p) == 5 and p[3] == "cpu0":
            start[p[0]] = (p[2], int(p[4]))
        elif len(p) == 5 and p[3] == "cpu1" and p[0] in start:
            out[p[0]] = (start[p[0]][0], int(p[4]) - start[p[0]][1])
    return out


def main():
    raw, out = sys.argv[1], sys.argv[2]
    machine = {}
    for line in open(os.path.join(raw, "machine")):
        k, _, v = line.rstrip("\n").partition(" ")
        machine[k] = v
    # Every N any part ran for (BENCH_ONLY may leave out the sweep).
    ns = set()
    for f in os.listdir(raw):
        tail = f.rsplit("-", 1)[-1].split(".")[0]
        if "-" in f and tail.isdigit():
            ns.add(int(tail))
    ns = sorted(ns)
    result = {"machine": machine, "n": {}}
    table = []

    def row(n, what, r, ratio_to=None, unit="ms"):
        table.append((n, what, r, ratio_to, unit))

    pooled = pooled_floor(raw, ns)
    if pooled:
        result["ref_floor_median"] = pooled
    for n in ns:
        d = {}
        lat = lat_rows(raw, n)
        d["latency"] = lat
        floor_r = lat.get("floor-react")
        floor_k = lat.get("floor-restart")
        inw = lat.get("inotify-react")
        for name, what, base in (
                ("floor-react", "reaction: floor (C watcher)", None),
                ("inotify-react", "reaction: inotifywait+sh", floor_r),
                ("agent-react", "reaction: steroids-agent", floor_r),
                ("agent-react-keep", "reaction: agent, writer keeps conn",
                 floor_r),
                ("agent-react-burst", "reaction: agent, writer bursts",
                 floor_r),
                ("floor-restart", "restart: floor", None),
                ("agent-restart", "restart: agent (after progress)",
                 floor_k),
                ("agent-restart-noprogress",
                 "restart: agent (no progress: backoff)", floor_k),
                ("cron1s", "reaction: sweep every 1 s (measured)", None)):
            if name in lat:
                r = dict(lat[name])
                if base and base["p50_ms"] and r["p50_ms"] is not None:
                    r["x_floor_p50"] = r["p50_ms"] / base["p50_ms"]
                    r["x_floor_p99"] = r["p99_ms"] / base["p99_ms"]
                if (name == "agent-react" and inw and inw["p50_ms"]
                        and r["p50_ms"] is not None):
                    r["inotify_over_agent_p50"] = inw["p50_ms"] / r["p50_ms"]
                    r["inotify_over_agent_p99"] = inw["p99_ms"] / r["p99_ms"]
                lat[name] = r
                row(n, what, r)
            elif name.startswith("agent") and machine.get("agent") == "0":
                row(n, what.replace("steroids-agent", "agent"), None)
        rf = ref_floor(raw, n)
        cpu = agent_cpu(raw, n)
        hz = os.sysconf("SC_CLK_TCK")
        d["writers"] = {}
        if "workers_rss_kib" in cpu:
            d["workers_rss_kib"] = cpu.pop("workers_rss_kib")
            row(n, "check workers' RSS after the reactions",
                {"value": "%.1f" % (d["workers_rss_kib"] / 1024.0)},
                unit="MiB")
        for name, wm in WRITER_ROWS:
            a = lat.get(name)
            if a is None:
                continue
            w = {"agent": a}
            if name in cpu and a["samples"]:
                w["load"] = cpu[name][0]
                w["cpu_ms_per_1000_reactions"] = (cpu[name][1] * 1000.0 /
                                                  hz) * 1000 / a["samples"]
                row(n, "  writer %s: agent+workers CPU/1000 (load %s)" % (
                    wm, w["load"]), {"value": "%.0f" %
                                     w["cpu_ms_per_1000_reactions"]},
                    unit="ms")
            if name in rf:
                r = dict(rf[name])
                if a["p50_ms"] is not None and r["p50_ms"]:
                    w["x_ref_p50"] = a["p50_ms"] / r["p50_ms"]
                    w["x_ref_p99"] = a["p99_ms"] / r["p99_ms"]
                    r["x_floor_p50"] = w["x_ref_p50"]
                    r["x_floor_p99"] = w["x_ref_p99"]
                w["ref_floor"] = rf[name]
                row(n, "  writer %s: ref floor (agent x it)" % wm, r)
                if (pooled and a["p50_ms"] is not None and
                        pooled["p50_ms"] and pooled["p99_ms"]):
                    w["x_ref_median_p50"] = a["p50_ms"] / pooled["p50_ms"]
                    w["x_ref_median_p99"] = a["p99_ms"] / pooled["p99_ms"]
                    row(n, "  writer %s: median ref floor of %d runs" % (
                        wm, pooled["runs"]), {
                            "p50_ms": pooled["p50_ms"],
                            "p99_ms": pooled["p99_ms"],
                            "x_floor_p50": w["x_ref_median_p50"],
                            "x_floor_p99": w["x_ref_median_p99"]})
            elif machine.get("reffloor", "none") == "none":
                row(n, "  writer %s: ref floor" % wm, {"value":
                    "not run (BENCH_FLOOR_SRC unset)"}, unit="")
            d["writers"][wm] = w
        sweep = os.path.join(raw, "sweep-%d" % n)
        if os.path.exists(sweep):
            t, m = [], []
            for line in open(sweep):
                p = line.split()
                if len(p) >= 2:
                    t.append(float(p[0]) * 1000)
                    m.append(int(p[1]))
            d["sweep"] = {"runs": len(t), "p50_ms": pct(t, 50),
                          "max_ms": max(t), "peak_rss_kib": max(m)}
            row(n, "sweep --dry-run (wall)", {"samples": len(t),
                "p50_ms": pct(t, 50), "p99_ms": None, "max_ms": max(t),
                "misses": None})
            row(n, "sweep --dry-run peak RSS", {"value": max(m) / 1024.0},
                unit="MiB")
        # The cron model: uniform wait over the 60 s period, plus a sweep.
        sw = d.get("sweep", {}).get("p50_ms") or 0
        d["cron60_model"] = {"p50_ms": 30000 + sw, "p99_ms": 59400 + sw,
                             "max_ms": 60000 + sw, "mean_ms": 30000 + sw}
        row(n, "reaction: cron every 60 s (model)", dict(
            d["cron60_model"], samples=None, misses=None))
        cost = os.path.join(raw, "agent-cost-%d" % n)
        if os.path.exists(cost):
            st = {}
            for line in open(cost):
                p = line.split()
                st[p[0]] = [int(x) for x in p[1:]]
            hz = os.sysconf("SC_CLK_TCK")
            c = {"rss_kib": st["idle"][0], "hwm_kib": st["end"][1],
                 "fds": st["idle"][2],
                 "idle_cpu_ms": (st["idle"][3] - st["start"][3]) * 1000 / hz,
                 "idle_wakeups": (st["idle"][4] + st["idle"][5]) -
                 (st["start"][4] + st["start"][5]),
                 "threads": st["idle"][6]}
            k = lat.get("agent-react", {}).get("samples") or 0
            if k and not os.path.exists(os.path.join(raw,
                                                     "agent-cpu-%s" % n)):
                c["cpu_ms_per_1000_reactions"] = ((st["reacted"][3] -
                    st["idle"][3]) * 1000 / hz) * 1000 / k
            d["agent_cost"] = c
            row(n, "agent RSS idle / peak", {"value": "%.1f / %.1f" % (
                c["rss_kib"] / 1024, c["hwm_kib"] / 1024)}, unit="MiB")
            row(n, "agent open fds", {"value": c["fds"]}, unit="")
            row(n, "agent idle: CPU ms / ctx switches",
                {"value": "%.0f / %d" % (c["idle_cpu_ms"],
                                         c["idle_wakeups"])}, unit="")
            if "cpu_ms_per_1000_reactions" in c:
                row(n, "agent CPU per 1000 reactions",
                    {"value": "%.0f" % c["cpu_ms_per_1000_reactions"]},
                    unit="ms")
        elif machine.get("agent") == "0":
            row(n, "agent cost", None)
        result["n"][str(n)] = d

    def f(x):
        if x is None:
            return "-"
        if isinstance(x, float):
            return "%.2f" % x if x < 100 else "%.0f" % x
        return str(x)

    print("steroids bench  %s  nproc %s  kernel %s  cpu %s  load %s" % (
        machine.get("date"), machine.get("nproc"), machine.get("kernel"),
        machine.get("cpu"), machine.get("load")))
    print("%-6s %-40s %7s %9s %9s %9s %6s %13s" % (
        "N", "row", "samples", "p50", "p99", "max", "miss", "x floor p50/99"))
    lines = []
    for n, what, r, _, unit in table:
        if r is None:
            print("%-6s %-40s %s" % (n, what, "not available (agent not "
                                      "built in this tree)"))
            lines.append([n, what, "not available"])
            continue
        if "value" in r:
            print("%-6s %-40s %7s %9s %s" % (n, what, "", r["value"], unit))
            lines.append([n, what, r["value"], unit])
            continue
        ratio = ""
        if "x_floor_p50" in r:
            ratio = "%.2f/%.2f" % (r["x_floor_p50"], r["x_floor_p99"])
        print("%-6s %-40s %7s %9s %9s %9s %6s %13s" % (
            n, what, f(r.get("samples")), f(r.get("p50_ms")),
            f(r.get("p99_ms")), f(r.get("max_ms")), f(r.get("misses")),
            ratio))
        if "inotify_over_agent_p50" in r:
            print("%-6s %-40s %7s %9s %9s" % (
                "", "  inotifywait+sh / agent", "",
                "%.1fx" % r["inotify_over_agent_p50"],
                "%.1fx" % r["inotify_over_agent_p99"]))
        lines.append([n, what, r.get("samples"), r.get("p50_ms"),
                      r.get("p99_ms"), r.get("max_ms"), r.get("misses"),
                      r.get("x_floor_p50"), r.get("x_floor_p99")])
    print("(latencies in ms; cron 60 s row is the model, not a measurement)")
    with open(out + ".json", "w") as fp:
        json.dump(result, fp, indent=1)
    with open(out + ".csv", "w", newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["n", "row", "samples|value", "p50_ms|unit", "p99_ms",
                    "max_ms", "misses", "x_floor_p50", "x_floor_p99"])
        w.writerows(lines)
    print("results: %s.json %s.csv" % (out, out))


main()
