#!/usr/bin/python3
"""bench-report.py RAW.json RESULTS.json: turn the raw measurements of run-bench.sh into
the table on stdout and the figures in RESULTS.json (medians, ratios, rates)."""

import json
import statistics
import sys

UMOCKDEV = ("under umockdev emulation: libusb spins on REAPURBNDELAY while a transfer "
            "waits, CPU figures are not those of real hardware")

# the session's states in path order, with what the time in each is spent on
PHASES = [
    ("plug-in", "plug-in -> identified (hotplug, open, HELLO)"),
    ("identifying", "identifying (policy, pairing)"),
    ("awaiting-approval", "awaiting-approval (the user)"),
    ("checking", "checking (STATUS, renewal check)"),
    ("generating-key", "generating-key (phone: key + CSR)"),
    ("checking-csr", "checking-csr (CSR checks, ledger)"),
    ("enrolling", "enrolling (service: TLS, Kerberos, issue)"),
    ("waiting-retry", "waiting-retry"),
    ("verifying", "verifying (key, chain, EKU)"),
    ("installing", "installing (STAGE_BEGIN, STAGE_ITEMs)"),
    ("committing", "committing (phone: COMMIT)"),
]


def phases_of(run):
    """ms spent in each state of one run, from the plug-in to provisioned."""
    out = {}
    events = run["events"]
    if not events:
        return out, None
    out["plug-in"] = (events[0]["time"] - run["plug_us"]) / 1000.0
    for ev, nxt in zip(events, events[1:]):
        out[ev["state"]] = out.get(ev["state"], 0.0) + (nxt["time"] - ev["time"]) / 1000.0
    end = next((e["time"] for e in events if e["state"] == "provisioned"), None)
    total = (end - run["plug_us"]) / 1000.0 if end is not None else None
    return out, total


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "n": len(values)}


def fmt(v, width=9):
    return ("%*.1f" % (width, v)) if v is not None else "%*s" % (width, "-")


def main():
    raw = json.load(open(sys.argv[1]))
    items = raw["raw"]
    singles = [r for r in items if r["kind"] == "single"]
    concurrent = [r for r in items if r["kind"] == "concurrent"]
    idle = [r for r in items if r["kind"] == "idle"]

    protocols = []
    for r in singles:
        if r["protocol"] not in protocols:
            protocols.append(r["protocol"])
    single_out = {}
    for proto in protocols:
        runs = [r for r in singles if r["protocol"] == proto]
        per_run = [phases_of(r) for r in runs]
        ok_runs = [(p, t, r) for (p, t), r in zip(per_run, runs) if t is not None]
        phase_stats = {}
        for key, _ in PHASES:
            values = [p.get(key) for p, _, _ in ok_runs if key in p]
            if values:
                phase_stats[key] = stats(values)
        single_out[proto] = {
            "runs": len(runs), "provisioned_runs": len(ok_runs),
            "phases_ms": phase_stats, "total_ms": stats([t for _, t, _ in ok_runs]),
            "daemon_cpu_ms": stats([r["daemon_cpu_ms"] for _, _, r in ok_runs]),
            "waiting_ms": stats([t - r["daemon_cpu_ms"] for _, t, r in ok_runs]),
            "label": "plug-in to provisioned, " + UMOCKDEV}

    one = next((c for c in concurrent if c["phones"] == 1), None)
    one_ms = (one["last_us"] - one["plug_us"]) / 1000.0 if one and one["last_us"] else None
    conc = []
    for c in concurrent:
        ms = (c["last_us"] - c["plug_us"]) / 1000.0 if c["last_us"] else None
        conc.append({"phones": c["phones"], "provisioned": c["provisioned"],
                     "total_ms": round(ms, 1) if ms is not None else None,
                     "ratio_to_one": round(ms / one_ms, 2) if ms and one_ms else None,
                     "ms_per_phone": round(ms / c["phones"], 1) if ms else None,
                     "daemon_cpu_ms": c["daemon_cpu_ms"]})
    idle_out = [{"label": i["label"], "seconds": i["seconds"],
                 "wakeups_per_s": round(i["switches"] / i["seconds"], 2),
                 "rss_kib": i["rss_kb"], "threads": i["threads"]} for i in idle]

    results = {
        "date": raw["date"], "host": raw["host"], "build": raw["build"],
        "protocol_concurrent_and_idle": raw["protocol"], "note": "every figure is taken " + UMOCKDEV,
        "single_phone": single_out,
        "concurrent": conc,
        "idle": idle_out,
        "idle_wakeups_counted": "context switches of all certtetherd threads "
                                "(voluntary + nonvoluntary, /proc/PID/task/*/status)",
        "raw": items,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    print("certtether bench  %s  %s  protocol %s  (%s)" % (raw["date"], raw["host"],
                                                          raw["protocol"], raw["build"]))
    print("Every figure below is measured %s;" % UMOCKDEV)
    print("phone-side times are phonesim's, server times the test fixtures' (Python CGI + openssl).")
    print()
    for n, proto in enumerate(protocols):
        out = single_out[proto]
        print("1%s. One phone, %s: plug-in to provisioned, median of %d runs (%d provisioned), ms"
              % ("abcdefgh"[n], proto, out["runs"], out["provisioned_runs"]))
        print("   %-46s %9s %9s %9s" % ("phase (from the ledger's event times)", "median", "min", "max"))
        for key, label in PHASES:
            s = out["phases_ms"].get(key)
            if s:
                print("   %-46s %s %s %s" % (label, fmt(s["median"]), fmt(s["min"]), fmt(s["max"])))
        for label, s in (("total, plug-in -> provisioned", out["total_ms"]),
                         ("certtetherd CPU (utime+stime), under umockdev", out["daemon_cpu_ms"]),
                         ("waiting on phone + server (total - CPU)", out["waiting_ms"])):
            if s:
                print("   %-46s %s %s %s" % (label, fmt(s["median"]), fmt(s["min"]), fmt(s["max"])))
        print()
    print("2. Phones plugged at once (%s, policy always), first plug-in to the last one provisioned"
          % raw["protocol"])
    print("   %6s %12s %10s %15s %13s %15s" % ("phones", "provisioned", "total s", "ratio to 1 phone",
                                               "ms per phone", "daemon CPU s"))
    for c in conc:
        print("   %6d %12d %10s %15s %13s %15s" % (
            c["phones"], c["provisioned"],
            "%.2f" % (c["total_ms"] / 1000.0) if c["total_ms"] is not None else "-",
            "%.2f" % c["ratio_to_one"] if c["ratio_to_one"] is not None else "-",
            "%.0f" % c["ms_per_phone"] if c["ms_per_phone"] is not None else "-",
            "%.2f" % (c["daemon_cpu_ms"] / 1000.0)))
    print("   (CPU under umockdev: includes libusb's busy polling of the emulated node)")
    print()
    print("3. Idle certtetherd (under umockdev emulation)")
    print("   %-40s %12s %10s %8s" % ("state", "wake-ups/s", "RSS MiB", "threads"))
    for i in idle_out:
        print("   %-40s %12.2f %10.1f %8d" % (i["label"], i["wakeups_per_s"], i["rss_kib"] / 1024.0,
                                            i["threads"]))
    print("   wake-ups counted as context switches of all its threads over %d s"
          % (idle_out[0]["seconds"] if idle_out else 0))
    print("   (voluntary + nonvoluntary, /proc/PID/task/*/status, per thread id; a thread that")
    print("   ended during the window is not counted; perf is not available here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
