"""Run every TTree and branch of a corpus of ROOT files through casa's reader and uproot, and
print the tally: trees opened, branches equal / refused / differing, crashes and hangs.

The corpus is scikit-hep-testdata (ROOT 5 to 6.40 files from CMS, ATLAS, LHCb, KM3NeT, Belle
II, ...): clone https://github.com/scikit-hep/scikit-hep-testdata and pass its
`src/skhep_testdata/data` directory. Every file is handled by a worker process with a
timeout, and every casa call has its own timeout, so a hang is counted, not waited for.

    python bench/corpus_tally.py CORPUS_DIR [--casa target/debug/casa-wrapper]
        [--json OUT.json] [--markdown OUT.md] [-j 2] [--only NAME ...]

A branch is counted only if it holds data (no sub-branches). Categories, per branch that
uproot reads:
  equal       casa's `inspect --dump` gives the same values as uproot's `to_list()`
              (float32 compared as float32; NaN equals NaN)
  nesting     the same values, nested differently (e.g. `x[3][2]`: casa flat, uproot 3x2)
  differ      different values (Double32_t/Float16_t with a range listed apart: ROOT itself
              sides with casa there, see docs/corpus.md)
  refused     casa lists the branch as not readable (the reason is tallied)
  error       casa lists it readable but `--dump` fails
  missing     casa does not list the branch (in a tree it opened)
  unopened    the branch's tree does not open in casa
Branches uproot cannot read either are counted apart. A casa crash is an exit by a signal
or Rust's panic code 101; a hang is a timeout.
"""

import argparse
import collections
import concurrent.futures as cf
import json
import math
import os
import re
import subprocess
import sys
import time

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE_CLASSES = {"TTree", "TNtuple", "TNtupleD"}
CASA_TIMEOUT = 120
FILE_TIMEOUT = 900


def run_casa(casa, args):
    """(status, stdout, stderr): status is 'ok', 'fail', 'crash' or 'hang'."""
    try:
        p = subprocess.run([casa, "inspect", *args], capture_output=True, text=True,
                           timeout=CASA_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "hang", "", f"timeout after {CASA_TIMEOUT} s"
    if p.returncode == 0:
        return "ok", p.stdout, p.stderr
    if p.returncode < 0 or p.returncode == 101 or "panicked" in p.stderr:
        return "crash", p.stdout, p.stderr
    return "fail", p.stdout, p.stderr


def last_line(s):
    lines = [x for x in s.strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else ""


def num(x):
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    return x


def same(a, b, f32):
    """casa's JSON value `a` against uproot's to_list value `b`."""
    if isinstance(b, (list, tuple)):
        return isinstance(a, list) and len(a) == len(b) and all(
            same(x, y, f32) for x, y in zip(a, b))
    if isinstance(b, dict):
        return False
    a = num(a)
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, (bool, int)) and isinstance(b, (bool, int)) and int(a) == int(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        if a == b:
            return True
        if f32:
            import numpy as np
            with np.errstate(over="ignore"):
                return bool(np.float32(a) == np.float32(b))
        return False
    return a == b


def flatten(v):
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from flatten(x)
    else:
        yield v


def worker(path, casa):
    """Every tree and branch of one file: a list of per-tree records."""
    import warnings
    warnings.filterwarnings("ignore")
    import uproot
    out = []
    try:
        f = uproot.open(path)
        classes = f.classnames()
    except Exception as e:  # noqa: BLE001 - uproot cannot open the file at all
        return {"file": os.path.basename(path), "uproot_error": repr(e)[:300], "trees": []}
    for key, cls in classes.items():
        if cls not in TREE_CLASSES:
            continue
        rec = {"tree": key, "class": cls, "branches": {}}
        out.append(rec)
        try:
            t = f[key]
            keys = [k for k in t.keys(recursive=True) if not t[k].branches]
        except Exception as e:  # noqa: BLE001
            rec["uproot_error"] = repr(e)[:300]
            keys = []
        ref = {}
        for k in keys:
            try:
                ref[k] = ("ok", t[k].array(library="ak").to_list())
            except Exception as e:  # noqa: BLE001
                ref[k] = ("fail", repr(e)[:200])
        status, so, se = run_casa(casa, [path, "--tree", key, "--json"])
        rec["casa_open"] = status
        if status != "ok":
            rec["casa_error"] = last_line(se)
            for k in keys:
                rec["branches"][k] = {"cat": "unopened" if ref[k][0] == "ok" else "both_fail"}
            continue
        listing = json.loads(so)["trees"][0]["branches"]
        by_name = {b["name"]: b for b in listing}
        names = {}
        for k in keys:
            name = k if k in by_name else k.rsplit("/", 1)[-1]
            names[k] = name if name in by_name else None
        readable = [k for k in keys if names[k] and by_name[names[k]]["readable"]]
        got = {}
        # One call for all readable branches; one per branch if that fails, to find which.
        for group in ([readable] if readable else []):
            st, so, se = run_casa(casa, [path, "--tree", key, "--json", "--dump",
                                         *[names[k] for k in group]])
            if st == "ok":
                vals = json.loads(so)["branches"]
                for k in group:
                    got[k] = ("ok", vals.get(names[k]))
            else:
                for k in group:
                    st1, so1, se1 = run_casa(casa, [path, "--tree", key, "--json", "--dump",
                                                    names[k]])
                    got[k] = (st1, json.loads(so1)["branches"].get(names[k]) if st1 == "ok"
                              else last_line(se1))
        for k in keys:
            r = {}
            b = by_name.get(names[k]) if names[k] else None
            uok = ref[k][0] == "ok"
            if b is None:
                r["cat"] = "missing" if uok else "both_fail"
            elif not b["readable"]:
                r["cat"] = "refused" if uok else "both_fail"
                r["why"] = b.get("why_not") or ""
            else:
                st, val = got[k]
                ctype = b.get("type") or ""
                if st != "ok":
                    r["cat"] = {"crash": "crash", "hang": "hang"}.get(st, "error")
                    r["why"] = val
                    if not uok and r["cat"] == "error":
                        r["cat"] = "both_fail"
                elif not uok:
                    r["cat"] = "uproot_fails"
                else:
                    f32 = "float32" in ctype or "Float16" in ctype
                    if same(val, ref[k][1], f32):
                        r["cat"] = "equal"
                    elif same(list(flatten(val)), list(flatten(ref[k][1])), f32):
                        r["cat"] = "nesting"
                    elif "Double32" in ctype or "Float16" in ctype:
                        r["cat"] = "differ_packed"
                    else:
                        r["cat"] = "differ"
                r["type"] = ctype
            rec["branches"][k] = r
    return {"file": os.path.basename(path), "trees": out}


def why_key(why):
    """A refusal reason without the file/tree/branch names, for tallying."""
    m = re.search(r"(?:type|holds|is) (.*?)(?:$|\s\()", why or "")
    s = why or "?"
    if ": " in s:
        s = s.rsplit(": ", 1)[-1]
    return m.group(1) if m and len(m.group(1)) < 80 else s[:80]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--casa", default=os.path.join(ROOT_DIR, "target/debug/casa-wrapper"))
    ap.add_argument("--json", help="write every branch's result here")
    ap.add_argument("--markdown", help="write the tally as Markdown here")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="only these file names")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.casa)))
        return
    files = sorted(f for f in os.listdir(a.corpus) if f.endswith(".root"))
    if a.only:
        files = [f for f in files if f in a.only]
    t0 = time.time()

    def one(name):
        try:
            p = subprocess.run([sys.executable, __file__, a.corpus, "--casa", a.casa,
                                "--worker", os.path.join(a.corpus, name)],
                               capture_output=True, text=True, timeout=FILE_TIMEOUT)
            if p.returncode != 0:
                return {"file": name, "worker_error": last_line(p.stderr), "trees": []}
            return json.loads(p.stdout)
        except subprocess.TimeoutExpired:
            return {"file": name, "worker_error": f"timeout after {FILE_TIMEOUT} s", "trees": []}

    with cf.ThreadPoolExecutor(a.j) as ex:
        results = list(ex.map(one, files))
    wall = time.time() - t0
    md = summarize(results, len(files), wall)
    print(md)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1, sort_keys=True)
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(md + "\n")


def summarize(results, nfiles, wall):
    trees = opened = 0
    crashes = hangs = 0
    cats = collections.Counter()
    whys = collections.Counter()
    unopened_why = collections.Counter()
    differ = []
    worker_errors = [r for r in results if r.get("worker_error") or r.get("uproot_error")]
    for r in results:
        for t in r["trees"]:
            trees += 1
            if t.get("casa_open") == "ok":
                opened += 1
            else:
                unopened_why[why_key(t.get("casa_error", ""))] += 1
                crashes += t.get("casa_open") == "crash"
                hangs += t.get("casa_open") == "hang"
            for k, b in t["branches"].items():
                cats[b["cat"]] += 1
                if b["cat"] == "refused":
                    whys[why_key(b.get("why"))] += 1
                if b["cat"] in ("differ", "differ_packed", "nesting"):
                    differ.append(f"{r['file']} {t['tree']} {k} ({b.get('type')}, {b['cat']})")
                crashes += b["cat"] == "crash"
                hangs += b["cat"] == "hang"
    uread = sum(v for c, v in cats.items() if c not in ("both_fail", "uproot_fails"))
    pct = lambda n, d: f"{100 * n / d:.1f} %" if d else "-"  # noqa: E731
    lines = [
        f"Corpus: {nfiles} files, {trees} trees (TTree/TNtuple/TNtupleD keys, every cycle); "
        f"{wall:.0f} s.",
        "",
        "| | count | share |",
        "|---|---:|---:|",
        f"| trees casa opens | {opened} / {trees} | {pct(opened, trees)} |",
        f"| branches uproot reads | {uread} | |",
        f"| — equal to uproot | {cats['equal']} | {pct(cats['equal'], uread)} |",
        f"| — same values, other nesting | {cats['nesting']} | {pct(cats['nesting'], uread)} |",
        f"| — differ (Double32/Float16 packing) | {cats['differ_packed']} | |",
        f"| — differ | {cats['differ']} | |",
        f"| — refused by casa | {cats['refused']} | {pct(cats['refused'], uread)} |",
        f"| — in trees casa does not open | {cats['unopened']} | {pct(cats['unopened'], uread)} |",
        f"| — listed readable, `--dump` fails | {cats['error']} | |",
        f"| — not listed by casa | {cats['missing']} | |",
        f"| branches uproot fails on, casa reads | {cats['uproot_fails']} | |",
        f"| branches both fail on | {cats['both_fail']} | |",
        f"| casa crashes / hangs (timeouts) | {crashes} / {hangs} | |",
        f"| files uproot or the worker cannot open | {len(worker_errors)} | |",
        "",
        "Refusals by reason (top 25):",
        "",
        "| branches | reason |",
        "|---:|---|",
    ]
    lines += [f"| {n} | `{w}` |" for w, n in whys.most_common(25)]
    lines += ["", "Trees casa does not open, by reason:", "", "| trees | reason |", "|---:|---|"]
    lines += [f"| {n} | `{w}` |" for w, n in unopened_why.most_common(25)]
    if differ:
        lines += ["", "Differing branches:", ""] + [f"- {d}" for d in differ[:60]]
    if worker_errors:
        lines += ["", "Files not tallied:", ""] + [
            f"- {r['file']}: {r.get('worker_error') or r.get('uproot_error')}"
            for r in worker_errors]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
