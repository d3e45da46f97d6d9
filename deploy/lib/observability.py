"""Checks the Grafana dashboards and Prometheus rules under deploy/ against the code.

usage: observability.py <repo>

- every dashboard under deploy/grafana/ is JSON with panels whose targets have an expression;
- every rule file under deploy/prometheus/ is YAML in Prometheus' `groups:` shape, each alert
  with an expression, a severity and a summary;
- every `oc_…` metric an expression names is registered by the code (`registry.register("oc_…"`
  in crates/ or services/, plus the suffixes the exposition adds: `_total` for counters,
  `_bucket`/`_sum`/`_count` for histograms), and every `oc:…` recording rule it uses is defined;
- every registered metric is documented in docs/operations.md.
"""

import json
import pathlib
import re
import sys

import yaml

SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created")
METRIC = re.compile(r"\boc_[a-z0-9_]+\b")
RECORDED = re.compile(r"\boc:[a-z0-9_:]+\b")
REGISTERED = re.compile(r'register\(\s*"(oc_[a-z0-9_]+)"', re.S)


def registered(repo):
    names = set()
    for root in ("crates", "services"):
        for path in (repo / root).rglob("*.rs"):
            names.update(REGISTERED.findall(path.read_text()))
    return names


def main():
    repo = pathlib.Path(sys.argv[1])
    problems = []
    metrics = registered(repo)
    if not metrics:
        problems.append("no metric registrations found in the code")
    known = {name + suffix for name in metrics for suffix in SUFFIXES}

    exprs = []  # (where, expression)
    recorded = set()
    for path in sorted((repo / "deploy/grafana").glob("*.json")):
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            problems.append(f"{path}: not JSON: {err}")
            continue
        panels = [p for p in dashboard.get("panels", []) if p.get("type") != "row"]
        if not panels:
            problems.append(f"{path}: no panels")
        for panel in panels:
            targets = panel.get("targets") or []
            if not targets:
                problems.append(f"{path}: panel {panel.get('title')!r} has no targets")
            for target in targets:
                if not target.get("expr"):
                    problems.append(f"{path}: panel {panel.get('title')!r} has a target without expr")
                exprs.append((f"{path.name}: {panel.get('title')}", target.get("expr", "")))
        for var in dashboard.get("templating", {}).get("list", []):
            if isinstance(var.get("query"), str):
                exprs.append((f"{path.name}: variable {var.get('name')}", var["query"]))

    rule_files = sorted((repo / "deploy/prometheus").glob("*.yaml"))
    if not rule_files:
        problems.append("no rule files under deploy/prometheus")
    for path in rule_files:
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            problems.append(f"{path}: not YAML: {err}")
            continue
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("alert") or rule.get("record")
                if not name or not rule.get("expr"):
                    problems.append(f"{path}: a rule in {group.get('name')} lacks a name or expr")
                    continue
                if "record" in rule:
                    recorded.add(rule["record"])
                else:
                    if not rule.get("labels", {}).get("severity"):
                        problems.append(f"{path}: alert {name} has no severity label")
                    if not rule.get("annotations", {}).get("summary"):
                        problems.append(f"{path}: alert {name} has no summary")
                exprs.append((f"{path.name}: {name}", str(rule["expr"])))

    for where, expr in exprs:
        for name in METRIC.findall(expr):
            if name not in known:
                problems.append(f"{where}: {name} is not a metric the code registers")
        for name in RECORDED.findall(expr):
            if name not in recorded:
                problems.append(f"{where}: recording rule {name} is not defined")

    docs = (repo / "docs/operations.md").read_text()
    for name in sorted(metrics):
        if name not in docs:
            problems.append(f"docs/operations.md does not document {name}")

    if problems:
        print("\n".join(f"observability: {p}" for p in problems), file=sys.stderr)
        sys.exit(1)
    print(
        f"observability: {len(exprs)} expressions use only the {len(metrics)} registered "
        f"metrics; every metric documented"
    )


if __name__ == "__main__":
    main()
