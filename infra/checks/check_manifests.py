#!/usr/bin/env python3
"""Cross-reference checks on rendered Kubernetes manifests (`kubectl kustomize k8s`).

What schema validation cannot see: that the objects fit together. Every failure is printed;
the exit status is 1 when there is any.

- every Service selects pods, and targets a port those pods declare;
- every HPA targets an existing Deployment whose containers request CPU;
- every referenced ConfigMap/Secret (and key) exists;
- every Deployment/StatefulSet container has probes, resource requests and a memory limit,
  and Deployments run with a restrictive securityContext;
- every pod is selected by a NetworkPolicy that names it, and the allowed paths are exactly
  the real calls: the in-cluster hosts in each workload's environment (URLs such as
  http://users:8001 or postgres://…@postgres:5432) plus DNS, with ingress open to any source
  only on ports a NodePort Service exposes.

Usage: check_manifests.py [rendered.yaml]   (reads stdin without an argument)
"""

import re
import sys
from urllib.parse import urlsplit

import yaml

WORKLOADS = ("Deployment", "StatefulSet")


class Manifests:
    def __init__(self, docs):
        self.docs = [d for d in docs if isinstance(d, dict) and d.get("kind")]
        self.errors = []

    def of(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def named(self, kind, name):
        return next((d for d in self.of(kind) if d["metadata"]["name"] == name), None)

    def fail(self, message):
        self.errors.append(message)

    def workloads(self):
        return [d for d in self.docs if d["kind"] in WORKLOADS]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels", {})


def containers(workload):
    spec = workload["spec"]["template"]["spec"]
    return spec.get("containers", []) + spec.get("initContainers", [])


def selects(selector, labels):
    """Whether a selector (a `matchLabels` selector, or a Service's plain map) selects `labels`.
    An empty selector counts as selecting nothing: every check here wants pods named explicitly
    (the default-deny policy's `{}` is checked on its own). `matchExpressions` is not used by
    these manifests and is refused rather than guessed at."""
    if not selector or "matchExpressions" in selector:
        return False
    match = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in match.items())


def app_of(workload):
    return pod_labels(workload).get("app")


def check_services(m):
    for svc in m.of("Service"):
        name = svc["metadata"]["name"]
        selector = svc["spec"].get("selector")
        if not selector:
            m.fail(f"Service/{name}: no selector")
            continue
        targets = [w for w in m.workloads() if selects(selector, pod_labels(w))]
        if not targets:
            m.fail(f"Service/{name}: selector {selector} matches no pod template")
            continue
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            for w in targets:
                declared = [p for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
                if not any(target in (p.get("name"), p.get("containerPort")) for p in declared):
                    m.fail(f"Service/{name}: targetPort {target!r} is not a containerPort of {w['kind']}/{w['metadata']['name']}")


def check_hpas(m):
    for hpa in m.of("HorizontalPodAutoscaler"):
        name = hpa["metadata"]["name"]
        ref = hpa["spec"]["scaleTargetRef"]
        target = m.named(ref["kind"], ref["name"])
        if target is None:
            m.fail(f"HorizontalPodAutoscaler/{name}: target {ref['kind']}/{ref['name']} does not exist")
            continue
        uses_cpu = any(metric.get("resource", {}).get("name") == "cpu" for metric in hpa["spec"].get("metrics", []))
        for c in containers(target):
            if uses_cpu and not c.get("resources", {}).get("requests", {}).get("cpu"):
                m.fail(f"HorizontalPodAutoscaler/{name}: container {c['name']} of {ref['name']} has no CPU request")


def check_references(m):
    def key_exists(kind, name, key):
        obj = m.named(kind, name)
        if obj is None:
            return f"{kind}/{name} does not exist"
        keys = set(obj.get("data", {}) or {}) | set(obj.get("stringData", {}) or {})
        if key is not None and key not in keys:
            return f"{kind}/{name} has no key {key!r}"
        return None

    for w in m.workloads():
        where = f"{w['kind']}/{w['metadata']['name']}"
        for c in containers(w):
            for env in c.get("env", []):
                source = env.get("valueFrom", {})
                for ref_kind, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if ref_kind in source:
                        ref = source[ref_kind]
                        problem = key_exists(kind, ref["name"], ref["key"])
                        if problem and not ref.get("optional"):
                            m.fail(f"{where}: env {env['name']}: {problem}")
            for env_from in c.get("envFrom", []):
                for ref_kind, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if ref_kind in env_from:
                        problem = key_exists(kind, env_from[ref_kind]["name"], None)
                        if problem:
                            m.fail(f"{where}: envFrom: {problem}")
        for volume in w["spec"]["template"]["spec"].get("volumes", []):
            if "configMap" in volume:
                problem = key_exists("ConfigMap", volume["configMap"]["name"], None)
            elif "secret" in volume:
                problem = key_exists("Secret", volume["secret"]["secretName"], None)
            else:
                problem = None
            if problem:
                m.fail(f"{where}: volume {volume['name']}: {problem}")


def check_containers(m):
    for w in m.workloads():
        where = f"{w['kind']}/{w['metadata']['name']}"
        for c in w["spec"]["template"]["spec"]["containers"]:
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe not in c:
                    m.fail(f"{where}: container {c['name']} has no {probe}")
            resources = c.get("resources", {})
            for resource in ("cpu", "memory"):
                if not resources.get("requests", {}).get(resource):
                    m.fail(f"{where}: container {c['name']} requests no {resource}")
            if not resources.get("limits", {}).get("memory"):
                m.fail(f"{where}: container {c['name']} has no memory limit")
            if w["kind"] == "Deployment":
                sc = c.get("securityContext", {})
                pod_sc = w["spec"]["template"]["spec"].get("securityContext", {})
                if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                    m.fail(f"{where}: container {c['name']} may run as root")
                if sc.get("readOnlyRootFilesystem") is not True:
                    m.fail(f"{where}: container {c['name']} has a writable root filesystem")
                if sc.get("allowPrivilegeEscalation") is not False:
                    m.fail(f"{where}: container {c['name']} allows privilege escalation")
                if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                    m.fail(f"{where}: container {c['name']} keeps Linux capabilities")
        if w["kind"] == "Deployment":
            strategy = w["spec"].get("strategy", {})
            if strategy.get("type", "RollingUpdate") != "RollingUpdate":
                m.fail(f"{where}: not a rolling update")
            if not any(selects(p["spec"]["selector"], pod_labels(w)) for p in m.of("PodDisruptionBudget")):
                m.fail(f"{where}: no PodDisruptionBudget")


URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"']+")


def real_calls(m):
    """(source app, target app, port) for every in-cluster host named in a workload's env."""
    services = {s["metadata"]["name"]: s for s in m.of("Service")}
    calls = set()
    for w in m.workloads():
        source = app_of(w)
        for c in containers(w):
            values = [str(env.get("value", "")) for env in c.get("env", [])]
            for env_from in c.get("envFrom", []):
                config = m.named("ConfigMap", env_from.get("configMapRef", {}).get("name"))
                values += [str(v) for v in (config or {}).get("data", {}).values()]
            for value in values:
                for url in URL.findall(value):
                    parts = urlsplit(url.replace("$(", "").replace(")", ""))
                    host = (parts.hostname or "").split(".")[0]
                    if host not in services:
                        continue
                    svc = services[host]
                    port = parts.port or svc["spec"]["ports"][0]["port"]
                    svc_port = next((p for p in svc["spec"]["ports"] if p["port"] == port), None)
                    if svc_port is None:
                        m.fail(f"{w['kind']}/{w['metadata']['name']}: {url} names port {port}, which Service/{host} does not expose")
                        continue
                    target = svc["spec"]["selector"].get("app")
                    container_port = resolve_port(m, target, svc_port.get("targetPort", port))
                    if target != source:
                        calls.add((source, target, container_port))
    return calls


def resolve_port(m, app, target_port):
    if isinstance(target_port, int):
        return target_port
    for w in m.workloads():
        if app_of(w) == app:
            for c in containers(w):
                for p in c.get("ports", []):
                    if p.get("name") == target_port:
                        return p["containerPort"]
    return target_port


def is_dns_rule(rule):
    ports = {(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports", [])}
    peers = rule.get("to", [])
    return ports <= {("UDP", 53), ("TCP", 53)} and any(
        p.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns" for p in peers
    )


def peer_apps(peers, m, where):
    apps = []
    for peer in peers:
        labels = peer.get("podSelector", {}).get("matchLabels", {})
        if set(peer) != {"podSelector"} or set(labels) != {"app"}:
            m.fail(f"{where}: peer {peer} is not a pod of this namespace selected by app")
            continue
        apps.append(labels["app"])
    return apps


def check_network_policies(m):
    policies = m.of("NetworkPolicy")
    if not any(p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies):
        m.fail("NetworkPolicy: no default deny of ingress and egress for every pod")

    node_ports = set()
    for svc in m.of("Service"):
        if svc["spec"].get("type") == "NodePort":
            app = svc["spec"]["selector"].get("app")
            for port in svc["spec"]["ports"]:
                node_ports.add((app, resolve_port(m, app, port.get("targetPort", port["port"]))))

    allowed_egress, allowed_ingress = set(), set()
    for w in m.workloads():
        app = app_of(w)
        own = [p for p in policies if p["spec"].get("podSelector") and selects(p["spec"]["podSelector"], pod_labels(w))]
        if not own:
            m.fail(f"{w['kind']}/{w['metadata']['name']}: no NetworkPolicy selects its pods by name")
        for policy in own:
            where = f"NetworkPolicy/{policy['metadata']['name']}"
            for rule in policy["spec"].get("egress", []):
                if is_dns_rule(rule):
                    continue
                for target in peer_apps(rule.get("to", []), m, where):
                    for port in rule.get("ports", []):
                        allowed_egress.add((app, target, port["port"]))
            for rule in policy["spec"].get("ingress", []):
                ports = [p["port"] for p in rule.get("ports", [])]
                if not ports:
                    m.fail(f"{where}: ingress rule without ports")
                if "from" not in rule:
                    for port in ports:
                        if (app, port) not in node_ports:
                            m.fail(f"{where}: ingress from anywhere on {port}, which no NodePort Service exposes")
                    continue
                for source in peer_apps(rule["from"], m, where):
                    for port in ports:
                        allowed_ingress.add((source, app, port))
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            if policy["spec"].get("podSelector") == {} and not is_dns_rule(rule):
                m.fail(f"NetworkPolicy/{policy['metadata']['name']}: egress for every pod that is not DNS")

    calls = real_calls(m)
    for source, target, port in sorted(calls):
        if (source, target, port) not in allowed_egress:
            m.fail(f"NetworkPolicy: {source} calls {target}:{port}, but no egress rule allows it")
        if (source, target, port) not in allowed_ingress and (target, port) not in node_ports:
            m.fail(f"NetworkPolicy: {source} calls {target}:{port}, but {target} admits no ingress from it")
    for source, target, port in sorted(allowed_egress | allowed_ingress):
        if source == target:
            continue  # a replica set member reaching itself through its service name
        if (source, target, port) not in calls:
            m.fail(f"NetworkPolicy: allows {source} -> {target}:{port}, which no workload calls")


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    m = Manifests(yaml.safe_load_all(text))
    if not m.workloads():
        m.fail("no Deployments or StatefulSets found")
    for check in (check_services, check_hpas, check_references, check_containers, check_network_policies):
        check(m)
    for error in m.errors:
        print(f"ERROR {error}")
    print(f"manifest cross-references: {len(m.docs)} objects, {len(m.errors)} problems")
    return 1 if m.errors else 0


if __name__ == "__main__":
    sys.exit(main())
