"""One-file changes on a copy of a corpus repository: changed-only `capstan diff` (the default)
must give the `--full` report and exit code for each.
Usage: diff_changed_only.py CAPSTAN GIT_ROOT PATH NAME — the copy at GIT_ROOT becomes a git
repository; PATH (GIT_ROOT itself, or a folder in it) is what `--path` names and where the
changes are made.
"""

import json
import pathlib
import re
import subprocess
import sys
import time

capstan, top, repo, name = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4]


def git(*args):
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=top, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def diff(*extra):
    start = time.monotonic()
    run = subprocess.run(
        [capstan, "diff", "all", "--path", str(repo), "--base", "HEAD", "-o", "json", "--offline", *extra],
        capture_output=True, text=True,
    )
    elapsed = time.monotonic() - start
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        sys.exit(f"FAIL {name}: diff {' '.join(extra)} printed no JSON (exit {run.returncode}):\n{run.stderr}")
    report.pop("unchanged_failures", None)
    return run.returncode, report, elapsed


def files(pattern, contains=None):
    out = []
    for path in sorted(repo.rglob(pattern)):
        if ".git" in path.parts or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if contains is None or contains in text:
            out.append(path)
    return out


def edit(path, change):
    text = path.read_text()
    new = change(text)
    if new == text:
        return False
    path.write_text(new)
    return True


def spec_insert(line):
    return lambda t: re.sub(r"^spec:\n", "spec:\n" + line + "\n", t, count=1, flags=re.M)


changes = []
hr = files("*.yaml", "kind: HelmRelease")
ks = files("*.yaml", "kustomize.toolkit.fluxcd.io")
kustomizations = files("kustomization.yaml")
components = [p for p in kustomizations if "kind: Component" in p.read_text()]
resources = [p for p in files("*.yaml") if p.name != "kustomization.yaml" and p not in ks and p not in hr]
for path in hr[:2] + hr[-1:]:
    changes.append((f"HelmRelease value in {path.relative_to(repo)}", path, spec_insert("  timeout: 11m")))
for path in ks[:1] + ks[-1:]:
    changes.append((f"Flux Kustomization spec in {path.relative_to(repo)}",
                    path, lambda t: re.sub(r"interval: \S+", "interval: 17m", t, count=1)))
for path in kustomizations[:1] + kustomizations[len(kustomizations) // 2:len(kustomizations) // 2 + 1]:
    changes.append((f"kustomization file {path.relative_to(repo)}",
                    path, lambda t: t.rstrip("\n") + "\ncommonAnnotations:\n  ci.capstan/changed: \"yes\"\n"))
for path in components[:1]:
    changes.append((f"component {path.relative_to(repo)}",
                    path, lambda t: t.rstrip("\n") + "\ncommonAnnotations:\n  ci.capstan/component: \"yes\"\n"))
for path in resources[len(resources) // 3:len(resources) // 3 + 1]:
    changes.append((f"resource deleted: {path.relative_to(repo)}", path, None))
for path in resources[2 * len(resources) // 3:2 * len(resources) // 3 + 1]:
    changes.append((f"resource unparsable: {path.relative_to(repo)}", path, lambda t: "kind: [unclosed\n" + t))

git("init", "-q", "-b", "main")
git("add", "-A")
git("commit", "-q", "-m", "base")
failed = 0
for label, path, change in changes:
    if change is None:
        path.unlink()
    elif not edit(path, change):
        continue
    only_code, only, only_time = diff()
    full_code, full, full_time = diff("--full")
    same = (only_code, only) == (full_code, full)
    groups = len(only.get("groups", []))
    print(f"{'ok' if same else 'FAIL'}: {name}: {label}: exit {only_code}, {groups} groups; "
          f"changed-only {only_time * 1000:.0f} ms, full {full_time * 1000:.0f} ms")
    if not same:
        failed += 1
        print(json.dumps({"changed-only": only, "full": full}, indent=1)[:4000])
    git("checkout", "-q", "--", ".")
    git("clean", "-qfd")
if failed:
    sys.exit(f"FAIL {name}: {failed} change(s) where changed-only differs from --full")
