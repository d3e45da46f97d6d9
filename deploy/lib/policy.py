"""ordercycle's own rules for the rendered manifests and the compose file, beyond what the
Kubernetes schema and checkov know: the DESIGN §3a ports, gRPC health probes on the service's
own port, a grace period longer than the drain, the hardening every pod must have, and that
authentication is off only where a file says "dev".

usage: policy.py COMPOSE_DIR RENDERED.yaml...   (exit 1 and one line per problem on failure)
"""

import pathlib
import sys

import yaml

SERVICES = ["orders", "inventory", "payments", "fulfillment", "shipping",
            "notifications", "feedback", "analytics"]
PORTS = {name: (50051 + i, 9101 + i) for i, name in enumerate(SERVICES)}
PER_SERVICE_KINDS = ["Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "NetworkPolicy"]

problems = []


def fail(where, what):
    problems.append(f"{where}: {what}")


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def check_pod(where, spec):
    psc = spec.get("securityContext", {})
    if not psc.get("runAsNonRoot"):
        fail(where, "pod securityContext.runAsNonRoot is not true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "seccompProfile is not RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken is not false")
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if not sc.get("readOnlyRootFilesystem"):
            fail(where, f"container {c['name']}: root filesystem is writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(where, f"container {c['name']}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(where, f"container {c['name']}: capabilities are not dropped (ALL)")
        if "limits" not in c.get("resources", {}) or "requests" not in c.get("resources", {}):
            fail(where, f"container {c['name']}: resources need requests and limits")


def check_rendered(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    where = path.name
    config = next((d["data"] for d in docs if d["kind"] == "ConfigMap"
                   and d["metadata"]["name"].startswith("ordercycle-config")), None)
    if config is None:
        fail(where, "no ordercycle-config ConfigMap")
        config = {}
    if config.get("OC_AUTH") != "jwt":
        fail(where, f"OC_AUTH is {config.get('OC_AUTH')!r}, not 'jwt'")
    grace = int(config.get("OC_SHUTDOWN_GRACE_SECS", 20))
    for name in SERVICES:
        grpc, http = PORTS[name]
        for kind in PER_SERVICE_KINDS:
            if (kind, name) not in objects:
                fail(where, f"{name}: no {kind}")
        job = objects.get(("Job", f"{name}-migrate"))
        if job is None:
            fail(where, f"{name}: no migration Job {name}-migrate")
        else:
            c = job["spec"]["template"]["spec"]["containers"][0]
            if c.get("command") != ["ordercycle", "migrate"] or c.get("args") != [name]:
                fail(where, f"{name}-migrate does not run `ordercycle migrate {name}`")
            check_pod(f"{where} Job/{name}-migrate", job["spec"]["template"]["spec"])
        dep = objects.get(("Deployment", name))
        if dep is None:
            continue
        at = f"{where} Deployment/{name}"
        pod = dep["spec"]["template"]["spec"]
        check_pod(at, pod)
        c = pod["containers"][0]
        if c.get("args") != [name]:
            fail(at, f"args are {c.get('args')}, not [{name}] (ENTRYPOINT is `ordercycle serve`)")
        env = env_of(c)
        prefix = f"OC_{name.upper()}"
        if env.get(f"{prefix}_GRPC_ADDR") != f"0.0.0.0:{grpc}":
            fail(at, f"{prefix}_GRPC_ADDR is not 0.0.0.0:{grpc}")
        if env.get(f"{prefix}_HTTP_ADDR") != f"0.0.0.0:{http}":
            fail(at, f"{prefix}_HTTP_ADDR is not 0.0.0.0:{http}")
        if f"{prefix}_DATABASE_URL" not in env:
            fail(at, f"no {prefix}_DATABASE_URL")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        if ports != {"grpc": grpc, "http": http}:
            fail(at, f"container ports are {ports}, not grpc {grpc} / http {http}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if c.get(probe, {}).get("grpc", {}).get("port") != grpc:
                fail(at, f"{probe} is not a gRPC health probe on {grpc}")
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        if not pre_stop:
            fail(at, "no preStop sleep")
        if pod.get("terminationGracePeriodSeconds", 30) <= grace + pre_stop:
            fail(at, f"terminationGracePeriodSeconds must exceed preStop {pre_stop} s + "
                     f"OC_SHUTDOWN_GRACE_SECS {grace} s")
        if not pod.get("topologySpreadConstraints"):
            fail(at, "no topologySpreadConstraints")
        svc = objects.get(("Service", name))
        if svc and {p["name"]: p["port"] for p in svc["spec"]["ports"]} != {"grpc": grpc, "http": http}:
            fail(f"{where} Service/{name}", f"ports are not grpc {grpc} / http {http}")
        sa = objects.get(("ServiceAccount", name))
        if sa and sa.get("automountServiceAccountToken") is not False:
            fail(f"{where} ServiceAccount/{name}", "automountServiceAccountToken is not false")
    nats = objects.get(("StatefulSet", "nats"))
    if nats is None:
        fail(where, "no NATS StatefulSet")
    else:
        if nats["spec"].get("replicas") != 3:
            fail(where, "NATS is not 3 replicas")
        if not nats["spec"].get("volumeClaimTemplates"):
            fail(where, "NATS has no volumes for JetStream file storage")
        check_pod(f"{where} StatefulSet/nats", nats["spec"]["template"]["spec"])
    for d in docs:
        for c in (d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])):
            if env_of(c).get("OC_AUTH") == "off":
                fail(where, f"{d['kind']}/{d['metadata']['name']} sets OC_AUTH=off")
    return len(docs)


def check_compose(directory):
    compose = yaml.safe_load((directory / "compose.yaml").read_text())
    services = compose["services"]
    for name in SERVICES:
        grpc, http = PORTS[name]
        s = services.get(name)
        if s is None:
            fail("compose.yaml", f"no service {name}")
            continue
        if s.get("command") != [name]:
            fail("compose.yaml", f"{name}: command is not [{name}]")
        env = s.get("environment", {})
        prefix = f"OC_{name.upper()}"
        if env.get(f"{prefix}_GRPC_ADDR") != f"0.0.0.0:{grpc}":
            fail("compose.yaml", f"{name}: {prefix}_GRPC_ADDR is not 0.0.0.0:{grpc}")
        if env.get(f"{prefix}_HTTP_ADDR") != f"0.0.0.0:{http}":
            fail("compose.yaml", f"{name}: {prefix}_HTTP_ADDR is not 0.0.0.0:{http}")
        if env.get("OC_AUTH") == "off":
            fail("compose.yaml", f"{name}: OC_AUTH=off outside compose.dev.yaml")
    for name in ("nats", "postgres", "migrate", "otel-collector", "jaeger"):
        if name not in services:
            fail("compose.yaml", f"no service {name}")
    for name in ("otel-collector", "jaeger"):
        if services.get(name, {}).get("profiles") != ["telemetry"]:
            fail("compose.yaml", f"{name} is not in profile telemetry")
    dev = yaml.safe_load((directory / "compose.dev.yaml").read_text())
    for name in SERVICES:
        if dev["services"].get(name, {}).get("environment", {}).get("OC_AUTH") != "off":
            fail("compose.dev.yaml", f"{name}: OC_AUTH is not off")
    yaml.safe_load((directory / "otel-collector.yaml").read_text())
    for example in sorted((directory / "k8s" / "examples").glob("*.yaml")):
        list(yaml.safe_load_all(example.read_text()))


def main():
    directory = pathlib.Path(sys.argv[1])
    counts = [check_rendered(pathlib.Path(p)) for p in sys.argv[2:]]
    check_compose(directory)
    for p in problems:
        print(f"  {p}")
    if problems:
        print(f"policy: {len(problems)} problem(s)")
        return 1
    print(f"policy: {sum(counts)} objects and compose.yaml follow the deployment rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
