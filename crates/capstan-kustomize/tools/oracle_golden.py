#!/usr/bin/env python3
"""Produce expected outputs for capstan-kustomize's own golden cases with the real kustomize.

    oracle_golden.py tests/data/smp [tests/data/...]

Each case is a folder. A folder holding `kustomization.yaml` is built as it is. A folder holding
`resource.yaml` and `patch.yaml` (a strategic-merge case) is built through a generated
kustomization in a temporary folder: `resources: [resource.yaml]`, `patches: [{path: patch.yaml}]`.
The oracle's stdout goes to `expected.yaml`; when it fails, its stderr goes to `expected.err`.
The oracle is `kubectl kustomize` from `$CAPSTAN_ORACLES/bin`, `~/.cache/capstan-oracles/bin`, or PATH.
"""
import os, shutil, subprocess, sys, tempfile

def oracle():
    for d in [os.path.join(os.environ.get("CAPSTAN_ORACLES", ""), "bin"),
              os.path.expanduser("~/.cache/capstan-oracles/bin")]:
        p = os.path.join(d, "kubectl")
        if os.path.exists(p):
            return p
    return shutil.which("kubectl") or sys.exit("kubectl not found: run install-oracles.sh")

def build(kubectl, case):
    if os.path.exists(os.path.join(case, "kustomization.yaml")):
        return subprocess.run([kubectl, "kustomize", case, "--reorder", "none"], capture_output=True, text=True)
    with tempfile.TemporaryDirectory() as tmp:
        for f in ("resource.yaml", "patch.yaml"):
            shutil.copy(os.path.join(case, f), tmp)
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as k:
            k.write("resources:\n- resource.yaml\npatches:\n- path: patch.yaml\n")
        return subprocess.run([kubectl, "kustomize", tmp, "--reorder", "none"], capture_output=True, text=True)

def main():
    kubectl = oracle()
    for root in sys.argv[1:]:
        for name in sorted(os.listdir(root)):
            case = os.path.join(root, name)
            if not os.path.isdir(case):
                continue
            r = build(kubectl, case)
            for f in ("expected.yaml", "expected.err"):
                if os.path.exists(os.path.join(case, f)):
                    os.remove(os.path.join(case, f))
            if r.returncode == 0:
                open(os.path.join(case, "expected.yaml"), "w").write(r.stdout)
            else:
                open(os.path.join(case, "expected.err"), "w").write(r.stderr)
            print("%-50s %s" % (name, "ok" if r.returncode == 0 else "error"))

if __name__ == "__main__":
    main()
