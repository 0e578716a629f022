"""Merges recur-bench's, peers.py's and keras_peers.py's rows into one report: the machine (CPU
model, recur's kernel ISA, the CPU's vector flags), then per shape, cell and thread count each
engine's time per call (per step for streaming, median [min..max]), recur's GFLOP/s, recur / best
fp32 peer, the 1-minute load average while the row ran, and a second table with each peer's
max |Δ| against recur's fp32 output. A peer outside the fp32 agreement bound (Keras on OpenVINO
in bf16) is timed and shown, marked †, and left out of "best fp32 peer"."""
import argparse
import json

ORDER = ["recur", "recur-bf16", "recur-int8", "onednn", "openvino", "onnxruntime", "torch", "keras_tf",
         "keras_ov", "keras_ov_f32"]
RECUR = ("recur", "recur-bf16", "recur-int8")
CELLS = ["lstm", "gru", "gru_reset_before", "simple_rnn"]
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16",
         "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")


def fmt(s):
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return " ".join(f for f in FLAGS if f in have) or "none of " + " ".join(FLAGS)
    except OSError:
        pass
    return "unknown"


def error(r):
    """max |Δ| vs recur fp32 of a row, or None."""
    return r.get("max_abs", r.get("max_abs_vs_fp32"))


def exact(r):
    """Counts as an fp32 peer: within the agreement bound (rows without the flag passed it)."""
    return r["engine"] not in RECUR and r.get("agrees", True)


def header(rows):
    out = []
    for m in (r for r in rows if r["engine"] == "machine"):
        out.append(f"Machine: CPU {m['cpu']}; recur kernels {m['isa']} (best here "
                   f"{m['best_isa']}); CPU flags: {cpu_flags()}")
        out.append("")
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
    return out


def times(keyed, engines, shapes, threads):
    labels = [e + (" (bf16)" if e == "keras_ov" else "") for e in engines]
    has_ov = "keras_ov" in engines
    has_bf = "recur-bf16" in engines  # issue 13's targets: bf16 vs the best fp32 peer, Keras-OV
    has_i8 = "recur-int8" in engines
    head = ("| shape | cell | thr | " + " | ".join(labels) +
            " | recur GFLOP/s | recur/best fp32 peer |" + (" recur/keras_ov |" if has_ov else "") +
            (" bf16/best fp32 peer |" if has_bf else "") +
            (" bf16/keras_ov |" if has_bf and has_ov else "") +
            (" int8/best fp32 peer |" if has_i8 else "") + " load |")
    out = [head, "|" + "---|" * (len(engines) + 6 + has_ov + has_bf + (has_bf and has_ov) +
                                 has_i8)]
    for s in shapes:
        for c in CELLS:
            for t in threads:
                rec = keyed.get((s, c, t, "recur"))
                if rec is None:
                    continue
                cells, loads, best = [], [], None
                for e in engines:
                    r = keyed.get((s, c, t, e))
                    if r is None:
                        cells.append("–")
                        continue
                    mark = "" if r["engine"] in RECUR or r.get("agrees", True) else " †"
                    cells.append(f"{fmt(r['seconds'])} [{fmt(r['seconds_min'])}–"
                                 f"{fmt(r['seconds_max'])}]{mark}")
                    if r.get("load1", -1) >= 0:
                        loads.append(r["load1"])
                    if exact(r) and (best is None or r["seconds"] < best[1]):
                        best = (e, r["seconds"])
                ratio = f"{rec['seconds'] / best[1]:.2f} ({best[0]})" if best else "–"
                line = (f"| {s} | {c} | {t} | " + " | ".join(cells) +
                        f" | {rec['gflops']:.1f} | {ratio} |")
                ov = keyed.get((s, c, t, "keras_ov"))
                if has_ov:
                    line += f" {rec['seconds'] / ov['seconds']:.2f} |" if ov else " – |"
                if has_bf:
                    bf = keyed.get((s, c, t, "recur-bf16"))
                    line += (f" {bf['seconds'] / best[1]:.2f} |" if bf and best else " – |")
                    if has_ov:
                        line += f" {bf['seconds'] / ov['seconds']:.2f} |" if bf and ov else " – |"
                if has_i8:
                    i8 = keyed.get((s, c, t, "recur-int8"))
                    line += f" {i8['seconds'] / best[1]:.2f} |" if i8 and best else " – |"
                load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "–"
                out.append(line + f" {load} |")
    return out


def errors(rows, shapes):
    """max |Δ| vs recur fp32 per peer (the largest over thread counts)."""
    err = {}
    for r in rows:
        if r["cell"] in ("sgemm", "-") or r["engine"] == "recur" or error(r) is None:
            continue
        k = (r["shape"], r["cell"], r["engine"])
        err[k] = max(err.get(k, 0.0), error(r))
        if not r.get("agrees", True):
            err[k + ("†",)] = True
    engines = [e for e in ORDER + ["recur(.keras)"] if any(k[2] == e for k in err)]
    if not engines:
        return []
    out = ["", "max |Δ| vs recur fp32, same weights and inputs (recur-bf16, recur-int8: recur's "
           "own bf16 or int8 weights; recur(.keras): recur's CLI on the .keras file the Keras peers ran; "
           "† outside the fp32 agreement bound |Δ| ≤ 1e-3·(0.01 + |y|), timed anyway):", "",
           "| shape | cell | " + " | ".join(engines) + " |", "|" + "---|" * (len(engines) + 2)]
    for s in shapes:
        for c in CELLS:
            if not any((s, c, e) in err for e in engines):
                continue
            vals = []
            for e in engines:
                v = err.get((s, c, e))
                vals.append("–" if v is None else
                            f"{v:.1e}" + (" †" if err.get((s, c, e, "†")) else ""))
            out.append(f"| {s} | {c} | " + " | ".join(vals) + " |")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    rows = []
    for f in a.files:
        try:
            rows += json.load(open(f))
        except (OSError, ValueError) as ex:
            print(f"merge.py: {f} unreadable ({ex}); its rows are missing")
    out = header(rows)
    keyed = {}
    for r in rows:
        if r["cell"] in ("sgemm", "-") or r["engine"] not in ORDER:
            continue
        keyed[(r["shape"], r["cell"], r["threads"], r["engine"])] = r
    engines = [e for e in ORDER if any(k[3] == e for k in keyed)]
    shapes = sorted({k[0] for k in keyed})
    threads = sorted({k[2] for k in keyed})
    out += times(keyed, engines, shapes, threads)
    out += errors(rows, shapes)
    text = "\n".join(out)
    print(text)
    if a.markdown:
        open(a.markdown, "w").write(text + "\n")


if __name__ == "__main__":
    main()
