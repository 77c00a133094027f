#!/usr/bin/env python3
"""Writes tests/bench/BENCHMARKS.md and its PNG plots from what `make bench` left in its results
directory (scripts/bench.sh): the text output of each part, one JSON file per fan-out cell from
build/ringcast-bench, the skipped cells with their reasons, h2load's figures and the big run.

    bench_report.py RESULTS_DIR MARKDOWN_FILE PLOTS_DIR
"""
import glob
import json
import os
import subprocess
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def text(path):
    return open(path).read().rstrip() if os.path.exists(path) else "(not run)"


def kfmt(n):
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def main():
    res, md_path, plots = sys.argv[1:4]
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(res, "meta.txt")) if "=" in line)
    cells = [load(p) for p in sorted(glob.glob(os.path.join(res, "cell-*.json")))]
    for c in cells:
        server, n, r, proto = c["label"].split()
        c["server"], c["n"], c["r"], c["proto"] = server, int(n[2:]), int(r[2:]), proto
    order = {"h1": 0, "h2": 1}
    cells.sort(key=lambda c: (order[c["proto"]], c["n"], c["r"], c["server"] != "ringcast"))
    skipped = [l.split(" ", 4) for l in open(os.path.join(res, "skipped.txt"))] if os.path.exists(
        os.path.join(res, "skipped.txt")) else []
    durations = text(os.path.join(res, "durations.txt"))

    out = []
    w = out.append

    def block(name):
        """A part's text output, as it was printed."""
        w("```")
        w(text(os.path.join(res, name + ".txt")))
        w("```")
        w("")
    w("# ringcast benchmarks")
    w("")
    w("Written by `make bench` (`scripts/bench.sh`, which calls `tests/bench/bench_report.py`); do not edit by hand.")
    w("Every figure comes from one run on one machine: read them as that machine's, with its load.")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| date | {meta.get('date', '?')} |")
    w(f"| machine | {meta.get('machine', '?')} |")
    w(f"| load average at the start | {meta.get('load', '?')} |")
    w(f"| command | `{meta.get('command', 'make bench')}` |")
    w(f"| commit | {meta.get('commit', '?')} |")
    w(f"| seconds per part | {' '.join(durations.split())} |")
    w("")
    w("## 1. Ring write / read (`build/bench/ring_bench`)")
    w("")
    block("ring")
    w("## 2. Bridge ingest (`scripts/bench-ingest.sh`)")
    w("")
    block("ingest")
    w("## 3. Fan-out: ringcast and nginx + nchan side by side (`scripts/bench-compare.sh`)")
    w("")
    w("The same client (`build/ringcast-bench`) and the same 100-byte stamped events for both servers;")
    w("each cell on a freshly started server with " + meta.get("workers", "2") + " workers; "
      "the protocols and the skipped cells are explained at the top of `scripts/bench-compare.sh`.")
    w("ringcast's CPU counts the edge and the bridge (whose process also runs the mock Kafka cluster);")
    w("the edge alone is in parentheses. Memory is PSS summed over the server's processes, read after")
    w("every stream answered and before any event was published. Latency is publish -> client on the")
    w("same clock: through Kafka, the bridge and the edge for ringcast, through the HTTP publisher for")
    w("nchan. *client CPU* is the receiving client's share of one core: near 100% means the client,")
    w("not the server, was the limit.")
    w("")
    w("| subscribers | events/s | protocol | server | delivered events/s | of N x R | server CPU-s per M events "
      "| p50 ms | p99 ms | KiB per idle stream | client CPU | gaps / errors |")
    w("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in cells:
        expect = c["n"] * c["r"]
        cpu = f"{c['server_cpu_per_mevent']:.2f}"
        if c["server"] == "ringcast" and c.get("servers"):
            cpu += f" ({c['servers'][0]['cpu_per_mevent']:.2f})"
        errs = c["connect_errors"] + c["http_errors"] + c["parse_errors"] + c["publish_errors"]
        ready = "" if c["streams_ready"] == c["streams"] else f", {c['streams_ready']} ready"
        w(f"| {kfmt(c['n'])} | {kfmt(c['r'])} | {c['protocol']} | {c['server']} | {c['events_per_s']:,.0f} | "
          f"{100 * c['events_per_s'] / expect:.0f}% | {cpu} | {c['latency_us']['p50'] / 1000:.1f} | "
          f"{c['latency_us']['p99'] / 1000:.1f} | {c['pss_per_stream'] / 1024:.1f} | "
          f"{100 * c['client_cpu_s'] / c['seconds']:.0f}% | {c['gaps']} / {errs}{ready} |")
    w("")
    for s in skipped:
        w(f"- {s[0]} {kfmt(int(s[1]))} x {kfmt(int(s[2]))}/s ({s[3]}): {s[4].strip()}")
    if skipped:
        w("")
    pairs = {}
    for c in cells:
        pairs.setdefault((c["n"], c["r"], c["protocol"]), {})[c["server"]] = c
    w("ringcast against nchan, cell by cell (events delivered per server CPU-second, and p99 latency):")
    w("")
    w("| subscribers | events/s | protocol | ringcast events per CPU-s | nchan events per CPU-s | ratio | "
      "p99 ringcast / nchan |")
    w("|---:|---:|---|---:|---:|---:|---:|")
    for (n, r, proto), p in pairs.items():
        if "ringcast" not in p or "nchan" not in p:
            continue
        a, b = p["ringcast"], p["nchan"]
        ea = a["events"] / a["server_cpu_s"] if a["server_cpu_s"] else 0
        eb = b["events"] / b["server_cpu_s"] if b["server_cpu_s"] else 0
        ratio = f"{ea / eb:.2f}x" if eb else "-"
        lat = f"{a['latency_us']['p99'] / 1000:.1f} / {b['latency_us']['p99'] / 1000:.1f} ms"
        w(f"| {kfmt(n)} | {kfmt(r)} | {proto} | {ea:,.0f} | {eb:,.0f} | {ratio} | {lat} |")
    w("")
    w("![server CPU-s per million delivered events](plots/cpu_per_mevent.png)")
    w("![p99 latency](plots/latency_p99.png)")
    w("![memory per idle stream](plots/memory_per_stream.png)")
    w("")
    w("### ringcast's edge alone (`scripts/bench-edge.sh`: one worker, ring -> client latency)")
    w("")
    block("edge")
    w("### Stalled readers beside live ones (`scripts/bench-stalled.sh`)")
    w("")
    w("A full 256 MiB ring (a record may be 64 MiB); 1000 live HTTP/1.1 streams at 1k events/s,")
    w("alone and then beside 200 streams resumed at 200 distinct old positions that never read.")
    w("What the worker holds for a stalled stream is one chunk of at most 64 KiB and what the")
    w("kernel queues is at most ~64 KiB (TCP_NOTSENT_LOWAT), whatever the ring's size. RSS is shown")
    w("as the worker's private memory and the ring pages it touched (shared with the bridge: placing")
    w("200 resumes over 8 partitions reads checkpoints all over the ring).")
    w("")
    if os.path.exists(os.path.join(res, "stalled.txt")):
        block("stalled")
    else:
        w("(not run)")
        w("")
    w("### The kernel's floor under fan-out (`build/bench/write_floor`)")
    w("")
    w("One process writing one 100-byte event to each of N loopback TCP connections, with nothing")
    w("else in the way: no edge can reach its N-th subscriber sooner, nor spend less than one such")
    w("write per event per subscriber when every event goes out on its own.")
    w("")
    if os.path.exists(os.path.join(res, "floor.txt")):
        block("floor")
    w("## 4. h2load: finite streams over h2c (`?limit=100`), ringcast")
    w("")
    h2p = os.path.join(res, "h2load.json")
    if os.path.exists(h2p):
        h = load(h2p)
        w("| streams | succeeded | seconds | streams/s | events/s | edge CPU-s | edge CPU-s per M events |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        w(f"| {h['streams']} | {h['succeeded']} | {h['seconds']:.2f} | {h['streams_per_s']:,.0f} | "
          f"{h['events_per_s']:,.0f} | {h['edge_cpu_s']:.2f} | {h['edge_cpu_per_mevent']:.2f} |")
    else:
        w("(not run)")
    w("")
    w("## Many concurrent streams: ringcast over HTTP/2, 100 streams per connection")
    w("")
    bp = os.path.join(res, "big.json")
    if os.path.exists(bp):
        b = load(bp)
        w("| streams | connections | ready | KiB per idle stream | events/s (10/s each) | delivered | "
          "p99 ms | server memory at the end |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|")
        w(f"| {b['streams']:,} | {b['connections']:,} | {b['streams_ready']:,} | {b['pss_per_stream'] / 1024:.2f} | "
          f"{b['events_per_s']:,.0f} | {100 * b['events_per_s'] / max(1, 10 * b['streams']):.0f}% | "
          f"{b['latency_us']['p99'] / 1000:.1f} | {b['server_pss_end'] / 1048576:.0f} MiB |")
    else:
        w("(not run)")
    w("")
    with open(md_path, "w") as f:
        f.write("\n".join(out))

    # Plots: one bar pair (ringcast, nchan) per cell.
    os.makedirs(plots, exist_ok=True)
    dat = os.path.join(res, "plot.dat")
    with open(dat, "w") as f:
        f.write("# cell rc_cpu nc_cpu rc_p99 nc_p99 rc_mem nc_mem\n")
        for (n, r, proto), p in pairs.items():
            if "ringcast" not in p or "nchan" not in p:
                continue
            a, b = p["ringcast"], p["nchan"]
            f.write(f"\"{kfmt(n)} x {kfmt(r)} {proto}\" {a['server_cpu_per_mevent']:.3f} "
                    f"{b['server_cpu_per_mevent']:.3f} {a['latency_us']['p99'] / 1000:.2f} "
                    f"{b['latency_us']['p99'] / 1000:.2f} {a['pss_per_stream'] / 1024:.2f} "
                    f"{b['pss_per_stream'] / 1024:.2f}\n")
    common = f"""set terminal pngcairo size 900,480 font ",10"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set grid ytics
set key top left
"""
    for name, cols, title, extra in [
        ("cpu_per_mevent", (2, 3), "server CPU-s per million delivered events (lower is better)", ""),
        ("latency_p99", (4, 5), "p99 latency publish -> client, ms (log scale)", "set logscale y\n"),
        ("memory_per_stream", (6, 7), "memory (PSS) per idle stream, KiB", ""),
    ]:
        script = common + extra + f"""set output "{os.path.join(plots, name + '.png')}"
set title "{title}"
plot "{dat}" using {cols[0]}:xtic(1) title "ringcast" lc rgb "#1f77b4", "" using {cols[1]} title "nginx + nchan" lc rgb "#ff7f0e"
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
