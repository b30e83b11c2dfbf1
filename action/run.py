#!/usr/bin/env python3
"""The capstan GitHub Action's script: check, and on pull requests diff and plan, then one PR comment.

Runs `capstan check` (annotations on the changed lines via `-o github`); on a pull_request or
pull_request_target event also `capstan diff all -o markdown` and `capstan plan -o markdown` against
the pull request's base, and posts the three as one comment on the pull request, updating the
comment it posted before (found by a hidden marker) instead of adding another. The same text goes to
the job summary. Inputs arrive as INPUT_* variables (as GitHub passes them); the GitHub API is
GITHUB_API_URL, so a stand-in on loopback can answer in tests. Standard library only.

Exit status: 0 when check is clean and the plan is below fail-on; 1 when either is not; 2 when
capstan or this script failed (a missing input, an unreachable API, a side that did not render).
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

MARKER = "<!-- capstan-action"
# GitHub refuses comment bodies over 65536 characters.
MAX_BODY = 65000
LEVELS = ("low", "medium", "high", "critical", "none")


class Fail(Exception):
    """A one-line error for the log, with what to do about it."""


def error(message):
    print(f"::error title=capstan::{message}", flush=True)


def env(name, default=""):
    value = os.environ.get(name, default)
    return value if value is not None else default


def run(argv, extra_env):
    print(f"$ {' '.join(argv)}", flush=True)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **extra_env})
    except FileNotFoundError:
        raise Fail(f"{argv[0]} not found: install capstan first (the action's install step) or set the capstan input to its path")
    sys.stderr.write(done.stderr)
    return done.returncode, done.stdout


def fenced(text):
    text = text.rstrip("\n")
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


def api(method, url, token, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    request.add_header("User-Agent", "capstan-action")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        hint = ""
        if e.code in (401, 403, 404):
            hint = " (give the workflow `permissions: pull-requests: write`, or set comment: false)"
        raise Fail(f"GitHub API {method} {url}: HTTP {e.code}{hint}")
    except urllib.error.URLError as e:
        raise Fail(f"GitHub API {method} {url}: {e.reason}")


def upsert_comment(api_url, repository, number, token, marker, body):
    """Updates this action's comment on the pull request, or posts one; returns (verb, id)."""
    base = f"{api_url.rstrip('/')}/repos/{repository}/issues"
    page = 1
    while True:
        comments = api("GET", f"{base}/{number}/comments?per_page=100&page={page}", token) or []
        for comment in comments:
            if (comment.get("body") or "").startswith(marker):
                api("PATCH", f"{base}/comments/{comment['id']}", token, {"body": body})
                return "updated", comment["id"]
        if len(comments) < 100:
            break
        page += 1
    created = api("POST", f"{base}/{number}/comments", token, {"body": body}) or {}
    return "posted", created.get("id")


def main():
    capstan = env("INPUT_CAPSTAN") or "capstan"
    path = env("INPUT_PATH") or "."
    fail_on = (env("INPUT_FAIL_ON") or "high").lower()
    age_key = env("INPUT_AGE_KEY")
    comment = (env("INPUT_COMMENT") or "true").lower() not in ("false", "0", "no")
    token = env("INPUT_GITHUB_TOKEN") or env("GITHUB_TOKEN")
    event_name = env("GITHUB_EVENT_NAME")
    workspace = env("GITHUB_WORKSPACE") or os.getcwd()

    if fail_on not in LEVELS:
        raise Fail(f"input fail-on is {fail_on!r}: use one of {', '.join(LEVELS)}")
    repo_path = path if os.path.isabs(path) else os.path.join(workspace, path)
    if not os.path.isdir(repo_path):
        raise Fail(f"input path {path!r} is not a folder of the checkout: check out the repository first (actions/checkout) and set path to the folder with the Flux repository")

    extra_env = {"CI": "true", "NO_COLOR": "1"}
    key_file = None
    if age_key:
        key_file = tempfile.NamedTemporaryFile("w", prefix="capstan-age-", delete=False)
        os.chmod(key_file.name, 0o600)
        key_file.write(age_key if age_key.endswith("\n") else age_key + "\n")
        key_file.close()
        extra_env["SOPS_AGE_KEY_FILE"] = key_file.name
        print(f"::add-mask::{age_key.strip()}", flush=True)

    try:
        failed = False
        broken = False
        sections = []

        code, annotations = run([capstan, "check", "--path", repo_path, "-o", "github"], extra_env)
        sys.stdout.write(annotations)
        if code not in (0, 1):
            broken = True
        code, report = run([capstan, "check", "--path", repo_path], extra_env)
        failed |= code == 1
        broken |= code not in (0, 1)
        verdict = {0: "clean", 1: "findings"}.get(code, "failed to run")
        sections.append(f"### capstan check: {verdict}\n\n{fenced(report)}")

        number = None
        if event_name in ("pull_request", "pull_request_target"):
            event_path = env("GITHUB_EVENT_PATH")
            if not event_path or not os.path.isfile(event_path):
                raise Fail("GITHUB_EVENT_PATH is missing: this script runs inside a GitHub Actions job (see docs/github-action.md to run it locally)")
            with open(event_path, encoding="utf-8") as f:
                event = json.load(f)
            pull = event.get("pull_request") or {}
            number = pull.get("number") or event.get("number")
            base = env("INPUT_BASE") or (pull.get("base") or {}).get("sha")
            if not base:
                raise Fail("no base revision: set the base input, or run on a pull_request event")
            code, diff = run([capstan, "diff", "all", "--path", repo_path, "--base", base, "-o", "markdown"], extra_env)
            broken |= code not in (0, 1)
            if diff.strip():
                sections.append(diff.strip())
            elif code == 0:
                sections.append("### capstan diff\n\nNo differences.")
            else:
                sections.append("### capstan diff\n\ncapstan diff could not compare this change: see the job log.")
            plan_cmd = [capstan, "plan", "--path", repo_path, "--base", base, "-o", "markdown"]
            if fail_on != "none":
                plan_cmd += ["--fail-on", fail_on]
            code, plan = run(plan_cmd, extra_env)
            failed |= code == 1
            broken |= code not in (0, 1)
            sections.append(plan.strip())

        marker = f"{MARKER} path={path} -->"
        body = marker + "\n## capstan\n\n" + "\n\n".join(s for s in sections if s) + "\n"
        if len(body) > MAX_BODY:
            body = body[:MAX_BODY] + "\n\n… cut at GitHub's comment limit; the job summary and log have the rest.\n"

        summary = env("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(body)

        if number is not None and comment:
            if not token:
                raise Fail("no token to comment with: pass github-token (default: github.token) or set comment: false")
            api_url = env("GITHUB_API_URL") or "https://api.github.com"
            repository = env("GITHUB_REPOSITORY")
            if not repository:
                raise Fail("GITHUB_REPOSITORY is missing: this script runs inside a GitHub Actions job")
            verb, comment_id = upsert_comment(api_url, repository, number, token, marker, body)
            print(f"{verb} comment {comment_id} on pull request #{number}", flush=True)

        output = env("GITHUB_OUTPUT")
        if output:
            with open(output, "a", encoding="utf-8") as f:
                f.write(f"result={'broken' if broken else 'failed' if failed else 'clean'}\n")
        return 2 if broken else 1 if failed else 0
    finally:
        if key_file is not None:
            os.unlink(key_file.name)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        error(str(e))
        sys.exit(2)
