"""Validate a casa run directory with HTCondor's own Python bindings (htcondor 25.x):
parse every submit file, expand it for some nodes with their DAG VARS bound the way DAGMan
binds them, check requirement expressions with classad2, and run Submit.from_dag.

    python tests/python/htcondor_check.py RUNDIR

Prints JSON: per checked node, the expanded commands; raises on any parse error.
"""

import json
import os
import re
import shlex
import sys
import warnings

warnings.filterwarnings("ignore")

import classad2  # noqa: E402
import htcondor2  # noqa: E402


def dag_nodes(dag_text):
    nodes, vars_ = {}, {}
    for line in dag_text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].upper() == "JOB":
            nodes[words[1]] = words[2]
        elif words[0].upper() == "VARS":
            rest = line.split(None, 2)[2]
            vars_[words[1]] = {k: v.replace('\\"', '"') for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest)}
    return nodes, vars_


def main():
    rundir = sys.argv[1]
    os.chdir(rundir)
    dag_text = open("casa.dag").read()
    nodes, vars_ = dag_nodes(dag_text)
    out = {"nodes": {}}
    subs = {}
    for sub in sorted(set(nodes.values())):
        text = open(sub).read()
        s = htcondor2.Submit(text)
        list(s.itemdata() or [])
        subs[sub] = text
        req = s.get("requirements")
        if req:
            classad2.ExprTree(req)
    check = [n for n in nodes if n.startswith("leaf-")][:3] + [n for n in nodes if n.startswith("merge")][:3]
    for node in check:
        # DAGMan prepends the node's VARS (DAGMAN_DEFAULT_APPEND_VARS=False) and JOB/RETRY.
        prefix = "".join(f'{k} = {v}\n' for k, v in vars_.get(node, {}).items())
        s = htcondor2.Submit(f"JOB = {node}\nRETRY = 0\n" + prefix + subs[nodes[node]])
        expanded = {}
        for key in ["executable", "arguments", "transfer_input_files", "transfer_output_files", "initialdir", "output", "error", "log", "universe", "checkpoint_exit_code", "transfer_checkpoint_files"]:
            if s.get(key) is not None:
                expanded[key] = s.expand(key)
        out["nodes"][node] = expanded
    dag = htcondor2.Submit.from_dag("casa.dag", {"Force": True, "DagmanPath": "/bin/true"})
    out["from_dag"] = {"ok": True, "keys": sorted(dag.keys())[:5]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
