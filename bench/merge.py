"""Merges recur-bench's and peers.py's rows into one table: per shape, cell and thread count,
each engine's time per call (per step for streaming, median [min..max]), GFLOP/s, and
recur / best peer."""
import argparse
import json

ORDER = ["recur", "onednn", "openvino", "onnxruntime", "torch"]
CELLS = ["lstm", "gru", "gru_reset_before", "simple_rnn"]


def fmt(s):
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    rows = []
    for f in a.files:
        rows += json.load(open(f))
    out = []
    peaks = {(r["engine"], r["threads"]): r["gflops"] for r in rows if r["cell"] == "sgemm"}
    if peaks:
        out.append("sgemm 1024³ peak (GFLOP/s): " + ", ".join(
            f"{e} {t}T {g:.1f}" for (e, t), g in sorted(peaks.items())))
        out.append("")
    over = [r for r in rows if r["engine"].endswith(":overhead")]
    if over:
        out.append("Python API per-call overhead (trivial model; included in the Python peers' "
                   "times): " + ", ".join(f"{r['engine'].split(':')[0]} {r['threads']}T "
                                          f"{fmt(r['seconds'])}" for r in over))
        out.append("")
    engines = [e for e in ORDER if any(r["engine"] == e and r["cell"] != "sgemm" for r in rows)]
    head = "| shape | cell | thr | " + " | ".join(engines) + " | recur GFLOP/s | recur/best peer |"
    out += [head, "|" + "---|" * (len(engines) + 5)]
    keyed = {}
    for r in rows:
        if r["cell"] in ("sgemm", "-"):
            continue
        keyed[(r["shape"], r["cell"], r["threads"], r["engine"])] = r
    shapes = sorted({k[0] for k in keyed})
    threads = sorted({k[2] for k in keyed})
    for s in shapes:
        for c in CELLS:
            for t in threads:
                cells = []
                rec = keyed.get((s, c, t, "recur"))
                if rec is None:
                    continue
                best = None
                for e in engines:
                    r = keyed.get((s, c, t, e))
                    if r is None:
                        cells.append("–")
                        continue
                    cells.append(f"{fmt(r['seconds'])} [{fmt(r['seconds_min'])}–"
                                 f"{fmt(r['seconds_max'])}]")
                    if e != "recur" and (best is None or r["seconds"] < best[1]):
                        best = (e, r["seconds"])
                ratio = f"{rec['seconds'] / best[1]:.2f} ({best[0]})" if best else "–"
                out.append(f"| {s} | {c} | {t} | " + " | ".join(cells) +
                           f" | {rec['gflops']:.1f} | {ratio} |")
    text = "\n".join(out)
    print(text)
    if a.markdown:
        open(a.markdown, "w").write(text + "\n")


if __name__ == "__main__":
    main()
