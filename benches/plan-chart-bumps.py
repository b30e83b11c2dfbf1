#!/usr/bin/env python3
"""`capstan plan` over synthetic chart bumps on the corpus repositories.

For each repository in ../shared/corpus: a temporary git copy (the corpus snapshot as the base
commit), then one commit per sampled HelmRelease made the way Renovate makes a chart bump in such a
repository -- the release's `spec.chart.spec.version`, or the `spec.ref.tag` of the OCIRepository
its `chartRef` names, together with the first app image tag its values pin (app-template style
`image: {repository, tag}` or `image: repo:tag`), which Renovate groups with it. On flux-local's
test clusters with local charts (cluster9, cluster12) the commits are real chart changes: the
chart's version with a change to its templates or values. Each commit is planned with
`capstan plan --base HEAD~1 --offline -o json` and summed up in one table row: the findings
(analysis, risk, object, file:line), the verdict, the exit code, and what was not rendered.

Not run by CI (the corpus has no charts of its own; offline, most releases are reported, not
rendered); its table goes in notes. The corpus is read in place and copied only to a temporary
directory.

    usage: benches/plan-chart-bumps.py [--capstan BIN] [--repo NAME]... [--per-repo N] [--json]
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_dir():
    for candidate in (os.environ.get("CAPSTAN_SHARED"), os.path.join(ROOT, "..", "shared"), "/work/shared"):
        if candidate and os.path.isdir(os.path.join(candidate, "corpus")):
            return candidate
    return None


def git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=renovate", "-c", "user.email=bot@example.com",
         "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ----- reading the repository ------------------------------------------------------------------

def documents(text):
    """The YAML documents of a file as (first line, end line) ranges, 0-based, end exclusive."""
    lines = text.split("\n")
    out, start = [], 0
    for i, line in enumerate(lines):
        if line.startswith("---"):
            out.append((start, i))
            start = i + 1
    out.append((start, len(lines)))
    return out


def load(text, rng):
    lines = text.split("\n")
    try:
        return yaml.safe_load("\n".join(lines[rng[0]:rng[1]]))
    except yaml.YAMLError:
        return None


def yaml_files(repo):
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                yield os.path.join(dirpath, name)


def scan(repo):
    """HelmReleases and OCIRepositories: (file, document range, object)."""
    releases, oci = [], {}
    for path in yaml_files(repo):
        try:
            text = open(path, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            continue
        if "kind: HelmRelease" not in text and "kind: OCIRepository" not in text:
            continue
        for rng in documents(text):
            obj = load(text, rng)
            if not isinstance(obj, dict):
                continue
            kind = obj.get("kind")
            name = (obj.get("metadata") or {}).get("name")
            if kind == "HelmRelease" and name:
                releases.append((path, rng, obj))
            elif kind == "OCIRepository" and name:
                oci.setdefault(name, []).append((path, rng, obj))
    return releases, oci


SEMVER = re.compile(r"^(v?)(\d+)\.(\d+)\.(\d+)(.*)$")


def bump(version):
    """1.2.3 → 1.2.4 (a Renovate patch bump); None for ranges and non-versions."""
    m = SEMVER.match(str(version))
    if not m:
        return None
    prefix, major, minor, patch, rest = m.groups()
    rest = re.sub(r"@sha256:[0-9a-f]{64}", "", rest)
    new = f"{prefix}{major}.{minor}.{int(patch) + 1}{rest}"
    digest = re.search(r"@sha256:[0-9a-f]{64}", str(version))
    if digest:
        new += "@sha256:" + hashlib.sha256(new.encode()).hexdigest()
    return new


def first_image(values, path="spec.values"):
    """The first pinned image of a release's values: (field path, tag key value, new value)."""
    if isinstance(values, dict):
        repo_ = values.get("repository")
        tag = values.get("tag")
        if isinstance(repo_, str) and isinstance(tag, (str, int, float)) and bump(tag):
            return (f"{path}.tag", str(tag), bump(tag))
        image = values.get("image")
        if isinstance(image, str) and ":" in image.split("/")[-1]:
            tag = image.rsplit(":", 1)[1]
            if bump(tag):
                return (f"{path}.image", image, image.rsplit(":", 1)[0] + ":" + bump(tag))
        for key in sorted(values, key=str):
            found = first_image(values[key], f"{path}.{key}")
            if found:
                return found
    elif isinstance(values, list):
        for i, item in enumerate(values):
            found = first_image(item, f"{path}[{i}]")
            if found:
                return found
    return None


def replace_in(path, rng, old, new, key):
    """Replaces the first `key: old` value in the document's lines (quotes and comments kept)."""
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    pattern = re.compile(r"^(\s*(?:- )?" + re.escape(key) + r":\s*[\"']?)" + re.escape(old) + r"([\"']?\s*(#.*)?)$")
    for i in range(rng[0], rng[1]):
        m = pattern.match(lines[i])
        if m:
            lines[i] = m.group(1) + new + m.group(2)
            open(path, "w", encoding="utf-8").write("\n".join(lines))
            return True
    return False


def pick(repo, items, n):
    """A deterministic spread: the n items whose repository paths and names hash lowest."""
    def key(it):
        return hashlib.sha1(f"{os.path.relpath(it[0], repo)}#{it[2]['metadata']['name']}".encode()).hexdigest()
    return sorted(items, key=key)[:n]


def chart_bumps(repo, per_repo):
    """Makes the commits; returns [(commit subject, what changed)]."""
    releases, oci = scan(repo)
    candidates = []
    for path, rng, hr in releases:
        spec = hr.get("spec") or {}
        chart = ((spec.get("chart") or {}).get("spec") or {})
        ref = spec.get("chartRef") or {}
        if chart.get("version") and bump(chart["version"]):
            candidates.append((path, rng, hr, ("chart", chart["version"])))
        elif ref.get("kind") == "OCIRepository" and ref.get("name") in oci:
            source = oci[ref["name"]][0]
            source_ref = (source[2].get("spec") or {}).get("ref") or {}
            # a pinned tag (Renovate), or an exact semver Flux's image automation rewrites
            key = "tag" if source_ref.get("tag") else "semver"
            tag = source_ref.get(key)
            if tag and bump(tag):
                candidates.append((path, rng, hr, ("oci", source, tag, key)))
            elif first_image(spec.get("values")):
                candidates.append((path, rng, hr, ("image",)))
        elif first_image(spec.get("values")):
            # the chart is a range Renovate does not pin: only the image is bumped
            candidates.append((path, rng, hr, ("image",)))
    touched_sources = set()
    for path, rng, hr, how in pick(repo, candidates, per_repo):
        name = hr["metadata"]["name"]
        rel = os.path.relpath(path, repo)
        changes = []
        if how[0] == "chart":
            new = bump(how[1])
            if replace_in(path, rng, str(how[1]), new, "version"):
                changes.append(f"{rel}: spec.chart.spec.version {how[1]} → {new}")
        elif how[0] == "oci":
            source, tag, field = how[1], how[2], how[3]
            key = (source[0], source[1])
            if key not in touched_sources:  # a shared chart (app-template) is bumped once
                new = bump(tag)
                if replace_in(source[0], source[1], str(tag), new, field):
                    touched_sources.add(key)
                    changes.append(f"{os.path.relpath(source[0], repo)}: OCIRepository/{source[2]['metadata']['name']} spec.ref.{field} {tag} → {new}")
        image = first_image((hr.get("spec") or {}).get("values"))
        if image:
            field, old, new = image
            key = field.rsplit(".", 1)[1]
            if replace_in(path, rng, old, new, key):
                changes.append(f"{rel}: {field} {old} → {new}")
        if not changes:
            continue
        subject = f"chore(deps): update {name}"
        git(repo, "commit", "-qam", subject)
        yield subject, changes


# ----- local charts (flux-local's cluster9 and cluster12) -----------------------------------

def edit(path, old, new, count=1):
    text = open(path, encoding="utf-8").read()
    if old not in text:
        raise SystemExit(f"{path}: {old!r} not found (the corpus changed?)")
    open(path, "w", encoding="utf-8").write(text.replace(old, new, count))


def append(path, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


# a template of our own for the nginx chart: a StatefulSet with a claim template, and a claim
CACHE = """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-cache
spec:
  serviceName: {{ .Release.Name }}-cache
  replicas: 1
  selector:
    matchLabels:
      app: {{ .Release.Name }}-cache
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}-cache
    spec:
      containers:
        - name: cache
          image: "redis:7.2.4"
          volumeMounts:
            - name: data
              mountPath: /data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 1Gi
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .Release.Name }}-uploads
spec:
  accessModes: ["ReadWriteOnce"]
  storageClassName: local-path
  resources:
    requests:
      storage: 5Gi
"""


def local_chart_changes(repo):
    """Real chart changes on the two local charts; yields (subject, changes) after each commit."""
    nginx = os.path.join(repo, "tests/testdata/cluster9/local-charts/nginx")
    flag = os.path.join(repo, "tests/testdata/cluster12/local-charts/flag-fixture")
    if not os.path.isdir(nginx) or not os.path.isdir(flag):
        return
    steps = [
        ("feat(nginx): chart 0.1.1, app 1.16.1", [
            (f"{nginx}/Chart.yaml", "version: 0.1.0", "version: 0.1.1"),
            (f"{nginx}/Chart.yaml", 'appVersion: "1.16.0"', 'appVersion: "1.16.1"'),
        ]),
        ("feat(nginx): chart 0.2.0 adds a component label to the selector", [
            (f"{nginx}/Chart.yaml", "version: 0.1.1", "version: 0.2.0"),
            (f"{nginx}/templates/_helpers.tpl",
             "app.kubernetes.io/instance: {{ .Release.Name }}",
             "app.kubernetes.io/instance: {{ .Release.Name }}\napp.kubernetes.io/component: web"),
        ]),
        ("feat(nginx): chart 0.2.1 runs privileged", [
            (f"{nginx}/Chart.yaml", "version: 0.2.0", "version: 0.2.1"),
            (f"{nginx}/values.yaml", "securityContext: {}", "securityContext:\n  privileged: true\n  runAsUser: 0"),
        ]),
        ("feat(nginx): chart 0.2.2 scales to zero", [
            (f"{nginx}/Chart.yaml", "version: 0.2.1", "version: 0.2.2"),
            (f"{nginx}/values.yaml", "replicaCount: 1", "replicaCount: 0"),
        ]),
        ("feat(nginx): chart 0.3.0 adds a cache StatefulSet and a claim", [
            (f"{nginx}/Chart.yaml", "version: 0.2.2", "version: 0.3.0"),
            (f"{nginx}/templates/cache.yaml", "", CACHE),
        ]),
        ("feat(nginx): chart 0.3.1 grows the cache's claim template", [
            (f"{nginx}/Chart.yaml", "version: 0.3.0", "version: 0.3.1"),
            (f"{nginx}/templates/cache.yaml", "storage: 1Gi", "storage: 2Gi"),
        ]),
        ("feat(nginx): chart 0.4.0 drops the cache and its claim", [
            (f"{nginx}/Chart.yaml", "version: 0.3.1", "version: 0.4.0"),
            (f"{nginx}/templates/cache.yaml", None, "remove"),
        ]),
        ("feat(flag-fixture): chart bump changes the service type and drops the CRD", [
            (f"{flag}/Chart.yaml", None, None),
            (f"{flag}/templates/service.yaml", "type: ClusterIP", "type: NodePort"),
        ]),
    ]
    for subject, edits in steps:
        changes = []
        for path, old, new in edits:
            rel = os.path.relpath(path, repo)
            if new == "remove":
                os.remove(path)
                changes.append(f"{rel}: removed")
                continue
            if old == "":  # a new file
                open(path, "w", encoding="utf-8").write(new)
                changes.append(f"{rel}: added")
                continue
            if old is None:  # the flag-fixture chart: bump whatever version it has
                text = open(path, encoding="utf-8").read()
                m = re.search(r"^version: (\S+)$", text, re.M)
                if m and bump(m.group(1).strip("\"'")):
                    new_v = bump(m.group(1).strip("\"'"))
                    edit(path, m.group(0), f"version: {new_v}")
                    changes.append(f"{rel}: version {m.group(1)} → {new_v}")
                continue
            edit(path, old, new)
            changes.append(f"{rel}: {old.strip()} → {new.strip()}".replace("\n", " "))
        git(repo, "add", "-A")
        if "drops the CRD" in subject:
            crds = os.path.join(flag, "crds")
            for name in sorted(os.listdir(crds)):
                os.remove(os.path.join(crds, name))
                changes.append(f"{os.path.relpath(crds, repo)}/{name}: removed")
            git(repo, "add", "-A")
        git(repo, "commit", "-qam", subject)
        yield subject, changes


# ----- planning ----------------------------------------------------------------------------

def plan(binary, repo, cache):
    t0 = time.monotonic()
    p = subprocess.run(
        [binary, "plan", "--path", repo, "--base", "HEAD~1", "--offline", "--chart-cache", cache,
         "-o", "json"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    elapsed = time.monotonic() - t0
    try:
        out = json.loads(p.stdout)
    except json.JSONDecodeError:
        out = {"error": (p.stderr or p.stdout).strip()[-400:]}
    return p.returncode, out, elapsed, p.stderr.strip()


def row(repo_name, subject, changes, rc, out, elapsed):
    findings = [
        f"{f['analysis']} {f['risk']} {f['object']}"
        + (f" {f['field']}" if f.get("field") else "")
        + (f" @ {f['file']}" + (f":{f['line']}" if f.get("line") else "") if f.get("file") else " @ (no file)")
        for f in out.get("findings", [])
    ]
    verdict = out.get("verdict") or {}
    unknown = [u["producer"] for u in out.get("unknown", [])]
    return {
        "repo": repo_name,
        "commit": subject,
        "changes": changes,
        "findings": findings,
        "raw_findings": out.get("findings", []),
        "verdict": f"{verdict.get('phase', '?')}/{verdict.get('risk', '?')}/{verdict.get('approval', '?')}" if verdict else out.get("error", "?"),
        "procedure": out.get("procedure", []),
        "exit": rc,
        "unrendered": unknown,
        "seconds": round(elapsed, 2),
    }


def print_table(rows):
    for r in rows:
        print(f"## {r['repo']} — {r['commit']}  (exit {r['exit']}, {r['seconds']}s)")
        for c in r["changes"]:
            print(f"   change:   {c}")
        if r["findings"]:
            for f in r["findings"]:
                print(f"   finding:  {f}")
        else:
            print("   finding:  (none)")
        print(f"   verdict:  {r['verdict']}")
        if r["unrendered"]:
            print(f"   not rendered: {', '.join(r['unrendered'])}")
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capstan", default=os.path.join(ROOT, "target/debug/capstan"))
    ap.add_argument("--repo", action="append", help="only this corpus repository (repeatable)")
    ap.add_argument("--per-repo", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    shared = shared_dir()
    if not shared:
        print("skipping: ../shared/corpus not found")
        return 0
    oracles = os.environ.get("CAPSTAN_ORACLES", "/root/.cache/capstan-oracles")
    os.environ["PATH"] = os.path.join(oracles, "bin") + os.pathsep + os.environ.get("PATH", "")
    if not shutil.which("helm"):
        print("warning: helm not on PATH: local charts are not rendered", file=sys.stderr)
    corpus = os.path.join(shared, "corpus")
    names = sorted(n for n in os.listdir(corpus) if os.path.isdir(os.path.join(corpus, n)))
    if args.repo:
        names = [n for n in names if n in args.repo]
    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="capstan-bumps-") as work:
        cache = os.path.join(work, "chart-cache")
        os.makedirs(cache)
        for name in names:
            repo = os.path.join(work, name)
            shutil.copytree(os.path.join(corpus, name), repo)
            subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", "base: corpus snapshot")
            commits = list(chart_bumps(repo, args.per_repo))
            if name == "allenporter+flux-local":
                commits += list(local_chart_changes(repo))
            # plan each commit against its parent, oldest first
            log = subprocess.run(["git", "rev-list", "--reverse", "HEAD"], cwd=repo,
                                 capture_output=True, text=True, check=True).stdout.split()[1:]
            for sha, (subject, changes) in zip(log, commits):
                subprocess.run(["git", "checkout", "-q", sha], cwd=repo, check=True)
                rc, out, elapsed, _ = plan(args.capstan, repo, cache)
                rows.append(row(name, subject, changes, rc, out, elapsed))
    if args.json:
        json.dump(rows, sys.stdout, indent=1, ensure_ascii=False)
        print()
    else:
        print_table(rows)
        print(f"{len(rows)} commits in {len(names)} repositories, {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
