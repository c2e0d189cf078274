"""Cross-reference checks of the Kubernetes objects deploy.sh applies: what schema validation
cannot see, that the objects fit together and fit the code they run.

`problems(docs, facts)` returns one line per problem. `facts` (see deploy_checks.Facts) carries
what the manifests must agree with: the table, the routes each service's code serves, the
launcher's subcommands, the databases and roles init.sql creates.
"""

import re
from urllib.parse import parse_qs, urlsplit

from sources import route_matches

WORKLOADS = ("Deployment", "StatefulSet", "Job")
DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "mongodb": 27017}
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
DNS_PORTS = {("UDP", 53), ("TCP", 53)}
# Probe commands must only look: these start or change something.
SIDE_EFFECTS = re.compile(r"initiate|replSetInitiate|createUser|updateUser|insert|\bdrop|CREATE\s|ALTER\s|INSERT\s")
ARGON2_MIB_PER_THREAD = 19  # argon2id m = 19456 KiB, the crate's default (subgraphs/users)
BASELINE_MIB = 64  # the whole platform peaks at 55 MiB with two hashing threads (BENCHMARKS.md)


class Manifests:
    def __init__(self, docs):
        self.docs = [d for d in docs if isinstance(d, dict) and d.get("kind")]

    def of(self, *kinds):
        return [d for d in self.docs if d["kind"] in kinds]

    def named(self, kind, name):
        return next((d for d in self.of(kind) if d["metadata"]["name"] == name), None)

    def workloads(self):
        return self.of(*WORKLOADS)


def where(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels", {})


def app_of(workload):
    return pod_labels(workload).get("app")


def containers(workload, init=True):
    spec = pod_spec(workload)
    return spec.get("containers", []) + (spec.get("initContainers", []) if init else [])


def selects(selector, labels):
    """A matchLabels selector (or a Service's plain map) selecting `labels`. An empty selector
    selects nothing here: every check wants pods named (default deny is checked on its own)."""
    if not selector or "matchExpressions" in selector:
        return False
    match = selector.get("matchLabels", selector)
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container, name):
    entry = env_of(container).get(name)
    return None if entry is None else entry.get("value")


def substituted(value):
    """A value with Kubernetes' $(VAR) references replaced, so it parses as a URL."""
    return re.sub(r"\$\((\w+)\)", "x", value)


def cpu_millis(quantity):
    if quantity is None:
        return None
    quantity = str(quantity)
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def memory_mib(quantity):
    factors = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, None: 1}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    return None if not match else float(match.group(1)) * factors[match.group(2)] / 2 ** 20


def effective(container, workload, field):
    value = container.get("securityContext", {}).get(field)
    return pod_spec(workload).get("securityContext", {}).get(field) if value is None else value


class Check:
    def __init__(self, docs, facts):
        self.m = Manifests(docs)
        self.facts = facts
        self.errors = []
        self.calls = set()  # (source app, target app, container port)

    def fail(self, message):
        self.errors.append(message)

    def platform_containers(self):
        """(workload, container, service name) for every container running the platform image."""
        repository = self.facts.image.split(":")[0].split("/")[0] + "/"
        for w in self.m.workloads():
            for c in containers(w):
                if c.get("image", "").startswith(repository):
                    args = c.get("args", [])
                    yield w, c, args[1] if len(args) == 2 and args[0] == "serve" else None

    def resolve_port(self, workload, target_port):
        if isinstance(target_port, int):
            return target_port
        for c in containers(workload, init=False):
            for p in c.get("ports", []):
                if p.get("name") == target_port:
                    return p["containerPort"]
        return None

    def workloads_of(self, selector):
        return [w for w in self.m.workloads() if selects(selector, pod_labels(w))]

    # -- objects fit together ---------------------------------------------------------------

    def services(self):
        for svc in self.m.of("Service"):
            selector = svc["spec"].get("selector")
            targets = self.workloads_of(selector)
            if not targets:
                self.fail(f"{where(svc)}: selector {selector} matches no pod template")
                continue
            for port in svc["spec"].get("ports", []):
                target = port.get("targetPort", port["port"])
                for w in targets:
                    if self.resolve_port(w, target) is None:
                        self.fail(f"{where(svc)}: targetPort {target!r} is not a containerPort of {where(w)}")

    def hpas(self):
        for hpa in self.m.of("HorizontalPodAutoscaler"):
            ref = hpa["spec"]["scaleTargetRef"]
            target = self.m.named(ref["kind"], ref["name"])
            if target is None:
                self.fail(f"{where(hpa)}: target {ref['kind']}/{ref['name']} does not exist")
                continue
            if any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])):
                for c in containers(target, init=False):
                    if not c.get("resources", {}).get("requests", {}).get("cpu"):
                        self.fail(f"{where(hpa)}: container {c['name']} of {ref['name']} has no CPU request")

    def references(self):
        def problem(kind, name, key):
            obj = self.m.named(kind, name)
            if obj is None:
                return f"{kind}/{name} does not exist"
            keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
            if key is not None and key not in keys:
                return f"{kind}/{name} has no key {key!r}"
            return None

        for w in self.m.workloads():
            for c in containers(w):
                for env in c.get("env", []):
                    source = env.get("valueFrom", {})
                    for ref_kind, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                        if ref_kind in source and not source[ref_kind].get("optional"):
                            found = problem(kind, source[ref_kind]["name"], source[ref_kind]["key"])
                            if found:
                                self.fail(f"{where(w)}: env {env['name']}: {found}")
                for env_from in c.get("envFrom", []):
                    for ref_kind, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                        if ref_kind in env_from:
                            found = problem(kind, env_from[ref_kind]["name"], None)
                            if found:
                                self.fail(f"{where(w)}: envFrom: {found}")
            for volume in pod_spec(w).get("volumes", []):
                found = None
                if "configMap" in volume:
                    found = problem("ConfigMap", volume["configMap"]["name"], None)
                elif "secret" in volume:
                    for item in volume["secret"].get("items", []) or [{"key": None}]:
                        found = found or problem("Secret", volume["secret"]["secretName"], item["key"])
                if found:
                    self.fail(f"{where(w)}: volume {volume['name']}: {found}")

    def containers(self):
        for w in self.m.workloads():
            for c in containers(w):
                kind = "init container" if c in pod_spec(w).get("initContainers", []) else "container"
                at = f"{where(w)}: {kind} {c['name']}"
                if kind == "container" and w["kind"] != "Job":
                    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                        if probe not in c:
                            self.fail(f"{at} has no {probe}")
                resources = c.get("resources", {})
                for resource in ("cpu", "memory"):
                    if not resources.get("requests", {}).get(resource):
                        self.fail(f"{at} requests no {resource}")
                if not resources.get("limits", {}).get("memory"):
                    self.fail(f"{at} has no memory limit")
                # Pod Security "restricted", which the namespace enforces.
                if effective(c, w, "runAsNonRoot") is not True:
                    self.fail(f"{at} may run as root")
                if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                    self.fail(f"{at} allows privilege escalation")
                if "ALL" not in c.get("securityContext", {}).get("capabilities", {}).get("drop", []):
                    self.fail(f"{at} keeps Linux capabilities")
                if (effective(c, w, "seccompProfile") or {}).get("type") != "RuntimeDefault":
                    self.fail(f"{at} has no RuntimeDefault seccomp profile")
                if w["kind"] == "Deployment" and c.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
                    self.fail(f"{at} has a writable root filesystem")
                image = c.get("image", "")
                if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                    self.fail(f"{at} runs {image!r}, which names no fixed tag")
                for name, probe in ((p, c[p]) for p in ("startupProbe", "livenessProbe", "readinessProbe") if p in c):
                    if "exec" in probe:
                        command = " ".join(probe["exec"]["command"])
                        if probe.get("timeoutSeconds", 1) < 5:
                            self.fail(f"{at}: {name} runs {probe['exec']['command'][0]} with a {probe.get('timeoutSeconds', 1)} s timeout; a command needs 5 s or more on a busy node")
                        if SIDE_EFFECTS.search(command):
                            self.fail(f"{at}: {name} changes state ({command!r}); probes only look, start-up work belongs in a Job or entrypoint")
            if w["kind"] == "Deployment":
                if w["spec"].get("strategy", {}).get("type", "RollingUpdate") != "RollingUpdate":
                    self.fail(f"{where(w)}: not a rolling update")
                if not any(selects(p["spec"]["selector"], pod_labels(w)) for p in self.m.of("PodDisruptionBudget")):
                    self.fail(f"{where(w)}: no PodDisruptionBudget")

    # -- the platform image runs the services the code has ------------------------------------

    def platform(self):
        images = {c["image"] for _, c, _ in self.platform_containers()}
        image = self.facts.image
        if self.facts.image.rsplit(":", 1)[-1] != self.facts.version:
            self.fail(f"infra/services.yaml: image {image} is not tagged with the crate version {self.facts.version} (Cargo.toml)")
        for w, c, service in self.platform_containers():
            at = f"{where(w)}: container {c['name']}"
            if c["image"] != image:
                self.fail(f"{at} runs {c['image']}, but deploy.sh builds one image for every service, {image}"
                          + (f" (the manifests name {len(images)})" if len(images) > 1 else ""))
            if c.get("imagePullPolicy") not in ("IfNotPresent", "Never"):
                self.fail(f"{at}: imagePullPolicy {c.get('imagePullPolicy', 'default')!r} would pull {c['image']}, "
                          "which exists only in Minikube (built by deploy.sh): use IfNotPresent")
            if service is None:
                self.fail(f"{at}: args {c.get('args')} are not `serve <service>`")
                continue
            if self.facts.serve is None:
                self.fail("src/main.rs: no `enum Service` found: cannot tell which services `ecommerce serve` runs")
            elif service not in self.facts.serve:
                self.fail(f"{at}: `ecommerce serve {service}` does not exist (the launcher serves {sorted(self.facts.serve)})")
            if service != app_of(w):
                self.fail(f"{at} serves {service} but its pods are app={app_of(w)}")
            self.ports_and_probes(w, c, service, at)
            self.hashing(w, c, service, at)
            self.signing_key(w, c, service, at)

    def ports_and_probes(self, w, c, service, at):
        routes = self.facts.routes.get(service)
        declared = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        port_env = env_value(c, "PORT")
        if port_env is None:
            self.fail(f"{at}: no PORT: the service would listen on its default, whatever containerPort says")
        elif int(port_env) not in declared.values():
            self.fail(f"{at}: PORT={port_env} but its containerPorts are {sorted(declared.values())}: nothing would answer there")
        listening = int(port_env) if port_env is not None else None
        spec = self.facts.services.get(service, {})
        if spec and listening is not None and listening != spec.get("port"):
            self.fail(f"{at}: PORT={listening} but infra/services.yaml says {service} listens on {spec.get('port')}")
        if routes is None:
            self.fail(f"{at}: no Rust sources for {service} (source {spec.get('source', 'subgraphs/' + service)}): cannot tell what it serves")
            return
        for name in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = c.get(name)
            if probe is None:
                continue
            get = probe.get("httpGet")
            if get is None:
                self.fail(f"{at}: {name} is not an HTTP GET (the image has no shell)")
                continue
            port = declared.get(get["port"], get["port"]) if isinstance(get["port"], str) else get["port"]
            if port != listening:
                self.fail(f"{at}: {name} probes port {get['port']!r} ({port}), but the service listens on {listening}")
            if not route_matches(get["path"], routes):
                self.fail(f"{at}: {name} probes {get['path']}, which {service} does not serve (it serves {sorted(r for r in routes if r.startswith('/health'))})")
        annotations = w["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            if annotations.get("prometheus.io/port") != str(listening):
                self.fail(f"{at}: Prometheus scrapes port {annotations.get('prometheus.io/port')}, but the service listens on {listening}")
            if not route_matches(annotations.get("prometheus.io/path", "/metrics"), routes):
                self.fail(f"{at}: Prometheus scrapes {annotations.get('prometheus.io/path')}, which {service} does not serve")

    def hashing(self, w, c, service, at):
        """Password hashing: one argon2 thread per CPU of the quota (or PASSWORD_HASHING_THREADS),
        19 MiB each: the memory limit must hold them all."""
        if service not in self.facts.argon2:
            return
        limits = c.get("resources", {}).get("limits", {})
        cpu = cpu_millis(limits.get("cpu"))
        if cpu is None:
            self.fail(f"{at}: hashes passwords with one argon2 thread per visible CPU but has no CPU limit: "
                      "on a large node a login burst outgrows its memory limit")
            return
        explicit = env_value(c, "PASSWORD_HASHING_THREADS")
        threads = int(explicit) if explicit else max(1, cpu // 1000)
        if threads > max(1, cpu // 1000):
            self.fail(f"{at}: {threads} hashing threads on a CPU limit of {cpu}m: more than the CPUs it may use only adds memory")
        memory = memory_mib(limits.get("memory"))
        needed = BASELINE_MIB + threads * ARGON2_MIB_PER_THREAD * 2
        if memory is None or memory < needed:
            self.fail(f"{at}: {threads} argon2 threads x {ARGON2_MIB_PER_THREAD} MiB (x2 margin) + {BASELINE_MIB} MiB = {needed} MiB "
                      f"does not fit its memory limit {limits.get('memory')}")

    def signing_key(self, w, c, service, at):
        """The service that signs tokens must sign with one key in every replica."""
        if service not in self.facts.signers:
            return
        hpa = next((h for h in self.m.of("HorizontalPodAutoscaler")
                    if h["spec"]["scaleTargetRef"]["name"] == w["metadata"]["name"]), None)
        replicas = max(w["spec"].get("replicas", 1), hpa["spec"]["maxReplicas"] if hpa else 1)
        if replicas < 2:
            return
        entry = env_of(c).get("JWT_PRIVATE_KEY")
        ref = (entry or {}).get("valueFrom", {}).get("secretKeyRef")
        if entry is None or ref is None:
            self.fail(f"{at}: runs up to {replicas} replicas but JWT_PRIVATE_KEY does not come from a Secret: each would sign with its own key")
        elif ref.get("optional"):
            self.fail(f"{at}: JWT_PRIVATE_KEY is optional: without the Secret each replica would sign with its own key")

    # -- every address names something that exists -------------------------------------------

    def resolve_host(self, w, name, url):
        """(target workload, Service) for a URL's host, or None after reporting why not."""
        parts = urlsplit(substituted(url))
        host = parts.hostname or ""
        labels = host.split(".")
        services = {s["metadata"]["name"]: s for s in self.m.of("Service")}
        at = f"{where(w)}: {name}={url}"
        svc = None
        if labels[0] in services and (len(labels) == 1 or labels[1] == self.facts.namespace):
            svc = services[labels[0]]
            targets = self.workloads_of(svc["spec"].get("selector"))
        elif len(labels) >= 2 and labels[1] in services:
            svc = services[labels[1]]
            sets = [s for s in self.workloads_of(svc["spec"].get("selector"))
                    if s["kind"] == "StatefulSet" and s["spec"].get("serviceName") == labels[1]]
            member = next((s for s in sets for i in range(s["spec"].get("replicas", 1))
                           if labels[0] == f"{s['metadata']['name']}-{i}"), None)
            if member is None:
                self.fail(f"{at}: {host} is no pod of a StatefulSet governed by Service/{labels[1]}")
                return None
            if svc["spec"].get("clusterIP") != "None":
                self.fail(f"{at}: Service/{labels[1]} is not headless, so {host} does not resolve")
            if svc["spec"].get("publishNotReadyAddresses") is not True:
                self.fail(f"{at}: Service/{labels[1]} does not publish not-ready addresses, so {host} resolves only "
                          f"once the pod is Ready, which for a replica set member needs this very name")
            targets = [member]
        else:
            self.fail(f"{at}: no Service {labels[0]!r} provides host {host}")
            return None
        if not targets:
            return None
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        svc_port = next((p for p in svc["spec"]["ports"] if p["port"] == port), None)
        if svc_port is None:
            self.fail(f"{at}: port {port} is not a port of Service/{svc['metadata']['name']}")
            return None
        target = targets[0]
        container_port = self.resolve_port(target, svc_port.get("targetPort", port))
        self.calls.add((app_of(w), app_of(target), container_port))
        return target, parts

    def addresses(self):
        for w in self.m.workloads():
            for c in containers(w):
                for name, entry in env_of(c).items():
                    value = entry.get("value")
                    if value is None or not (name.endswith("_URL") or "://" in value):
                        continue
                    if "://" not in value:
                        self.fail(f"{where(w)}: {name}={value!r} is not a URL")
                        continue
                    resolved = self.resolve_host(w, name, value)
                    if resolved is None:
                        continue
                    target, parts = resolved
                    served = app_of(target)
                    if served in self.facts.services:
                        target_c = next((tc for _, tc, s in self.platform_containers() if s == served), None)
                        listening = env_value(target_c, "PORT") if target_c else None
                        if listening is not None and parts.port != int(listening):
                            self.fail(f"{where(w)}: {name}={value} names port {parts.port}, but {served} listens on {listening}")
                        if parts.path not in ("", "/") and not route_matches(parts.path, self.facts.routes.get(served) or set()):
                            self.fail(f"{where(w)}: {name}={value}: {served} serves no {parts.path}")
                    if name == "DATABASE_URL":
                        self.database(w, c, value, target, parts)

    def database(self, w, c, url, target, parts):
        at = f"{where(w)}: DATABASE_URL={url}"
        user = parts.username
        name = parts.path.lstrip("/")
        password = re.fullmatch(r"\$\((\w+)\)", urlsplit(url).password or "")
        if not password:
            self.fail(f"{at}: the password must be $(VAR) of a Secret, not written in the manifest")
            return
        variable = password.group(1)
        names = [e["name"] for e in c.get("env", [])]
        if variable not in names or names.index(variable) > names.index("DATABASE_URL"):
            self.fail(f"{at}: $({variable}) must be defined before DATABASE_URL, or Kubernetes leaves it unexpanded")
            return
        ref = env_of(c)[variable].get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            self.fail(f"{at}: $({variable}) does not come from a Secret")
            return
        database_c = containers(target, init=False)[0]
        if parts.scheme in ("postgres", "postgresql"):
            sql = self.facts.init_sql
            if name not in sql.databases:
                self.fail(f"{at}: infra/db/init.sql creates no database {name!r} (it creates {sorted(sql.databases)})")
            if user not in sql.roles:
                self.fail(f"{at}: infra/db/init.sql creates no login role {user!r} (it creates {sorted(sql.roles)})")
            elif name in sql.databases and sql.databases[name] != user:
                self.fail(f"{at}: database {name} is owned by {sql.databases[name] or 'the superuser'}, not by {user}, "
                          "which could not run its migrations")
            elif sql.roles[user] != ref["key"]:
                self.fail(f"{at}: role {user}'s password is set from {sql.roles[user]}, but the service uses {ref['name']}/{ref['key']}")
            elif not receives(database_c, ref):
                self.fail(f"{at}: {where(target)} does not get {ref['name']}/{ref['key']}, which init.sql reads")
        elif parts.scheme == "mongodb":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            key = f"{(user or '').upper()}_DB_PASSWORD"
            if not user or user != name or query.get("authSource") != name:
                self.fail(f"{at}: mongo-init creates user <name> in database <name>: user, database and authSource must all be the service's name")
            if ref["key"] != key:
                self.fail(f"{at}: mongo-init sets user {user}'s password from {key}, but the service uses {ref['key']}")
            replica_set = arg_after(database_c.get("args", []), "--replSet")
            if query.get("replicaSet") != replica_set:
                self.fail(f"{at}: replicaSet={query.get('replicaSet')} but mongod runs --replSet {replica_set}")
            jobs = [j for j in self.m.of("Job") if any(env_value(jc, "MONGO_REPLICA_SET") for jc in containers(j))]
            for job in jobs:
                jc = containers(job)[0]
                member = urlsplit(env_value(jc, "MONGO_URL") or "").netloc
                if member != parts.netloc.split("@")[-1]:
                    self.fail(f"{at}: the replica set member is {member} (Job/{job['metadata']['name']}), "
                              f"but the service connects to {parts.netloc.split('@')[-1]}")
                if not receives(jc, ref):
                    self.fail(f"{at}: Job/{job['metadata']['name']} does not get {ref['name']}/{ref['key']}, so user {user} is never created")
            if not jobs:
                self.fail(f"{at}: no Job initiates the replica set and creates user {user}")
        else:
            self.fail(f"{at}: unknown database scheme {parts.scheme}")

    # -- MongoDB comes up on its own ----------------------------------------------------------

    def replica_sets(self):
        for w in self.m.of("StatefulSet"):
            for c in containers(w, init=False):
                args = c.get("args", [])
                replica_set = arg_after(args, "--replSet")
                if replica_set is None:
                    continue
                at = f"{where(w)}: container {c['name']}"
                svc = self.m.named("Service", w["spec"].get("serviceName"))
                if svc is None or svc["spec"].get("publishNotReadyAddresses") is not True:
                    self.fail(f"{at}: Service/{w['spec'].get('serviceName')} must publish not-ready addresses: "
                              "the member is initiated by its DNS name, and is Ready only once initiated")
                readiness = " ".join(c.get("readinessProbe", {}).get("exec", {}).get("command", []))
                if "isWritablePrimary" not in readiness:
                    self.fail(f"{at}: readiness must wait for the writable primary (db.hello().isWritablePrimary)")
                entry = env_of(c).get("MONGO_INITDB_ROOT_PASSWORD")
                if not (entry and entry.get("valueFrom", {}).get("secretKeyRef")):
                    self.fail(f"{at}: no root user from a Secret: MongoDB would run without access control")
                keyfile = arg_after(args, "--keyFile")
                if keyfile is None:
                    self.fail(f"{at}: no --keyFile: a replica set with access control needs one")
                else:
                    self.keyfile(w, c, keyfile, at)
                member = f"{w['metadata']['name']}-0.{w['spec'].get('serviceName')}"
                port = c.get("ports", [{}])[0].get("containerPort")
                initiators = [j for j in self.m.of("Job") for jc in containers(j)
                              if env_value(jc, "MONGO_REPLICA_SET") == replica_set
                              and urlsplit(env_value(jc, "MONGO_URL") or "").netloc == f"{member}:{port}"]
                if not initiators:
                    self.fail(f"{at}: no Job initiates replica set {replica_set} with member {member}:{port} "
                              "(MONGO_REPLICA_SET and MONGO_URL of the mongo-init Job)")
                for job in initiators:
                    scripts = [self.m.named("ConfigMap", v["configMap"]["name"]) for v in pod_spec(job).get("volumes", []) if "configMap" in v]
                    if not any("replSetInitiate" in str((s or {}).get("data", {})) for s in scripts):
                        self.fail(f"{where(job)}: its script never initiates the replica set")

    def keyfile(self, w, c, path, at):
        mounts = sorted((m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")),
                        key=lambda m: len(m["mountPath"]))
        if not mounts:
            self.fail(f"{at}: --keyFile {path} is on no volume")
            return
        mount = mounts[-1]
        volume = next((v for v in pod_spec(w).get("volumes", []) if v["name"] == mount["name"]), {})
        if "emptyDir" not in volume:
            self.fail(f"{at}: --keyFile {path} is read straight from a {next(iter(set(volume) - {'name'}), '?')} volume: "
                      "mongod refuses a key others can read, and such a volume is root's or group-readable; "
                      "copy it into an emptyDir with mode 0400 in an init container")
            return
        file_name = path.rsplit("/", 1)[-1]
        uid = effective(c, w, "runAsUser")
        writers = [i for i in pod_spec(w).get("initContainers", [])
                   if any(m["name"] == mount["name"] for m in i.get("volumeMounts", []))
                   and re.search(r"chmod\s+0?[46]00\s+\S*" + re.escape(file_name), " ".join(i.get("command", []) + i.get("args", [])))]
        if not writers:
            self.fail(f"{at}: no init container writes {path} with mode 0400 (or 0600)")
        for writer in writers:
            if effective(writer, w, "runAsUser") != uid:
                self.fail(f"{at}: init container {writer['name']} writes {path} as uid {effective(writer, w, 'runAsUser')}, "
                          f"but mongod runs as {uid} and must own it")

    # -- the network allows exactly what is used ----------------------------------------------

    def network_policies(self):
        policies = self.m.of("NetworkPolicy")
        if not any(p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
                   and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies):
            self.fail("NetworkPolicy: no default deny of ingress and egress for every pod")

        def applies(policy, w):
            selector = policy["spec"].get("podSelector")
            return selector == {} or selects(selector, pod_labels(w))

        node_ports = set()
        for svc in self.m.of("Service"):
            if svc["spec"].get("type") == "NodePort" and svc["spec"].get("externalTrafficPolicy") != "Local":
                # Cluster replaces every client's address with a node's: the login throttle's
                # per-address rules would then count all clients as one.
                self.fail(f"{where(svc)}: a NodePort must keep client addresses (externalTrafficPolicy: Local)")
            if svc["spec"].get("type") == "NodePort":
                for w in self.workloads_of(svc["spec"]["selector"]):
                    for port in svc["spec"]["ports"]:
                        node_ports.add((app_of(w), self.resolve_port(w, port.get("targetPort", port["port"]))))

        allowed_egress, allowed_ingress = set(), set()
        for w in self.m.workloads():
            app = app_of(w)
            own = [p for p in policies if applies(p, w)]
            if not any(p["spec"].get("podSelector") for p in own):
                self.fail(f"{where(w)}: no NetworkPolicy selects its pods by name")
            if not any(is_dns_rule(r) for p in own for r in p["spec"].get("egress", [])):
                self.fail(f"{where(w)}: no egress to DNS (CoreDNS in kube-system, port 53): it could resolve no name")
            for policy in own:
                at = f"NetworkPolicy/{policy['metadata']['name']}"
                for rule in policy["spec"].get("egress", []):
                    if looks_like_dns(rule):
                        if not is_dns_rule(rule):
                            self.fail(f"{at}: the DNS rule must allow exactly CoreDNS (namespace kube-system, k8s-app=kube-dns) "
                                      f"on port 53 and nothing else: {rule}")
                        continue
                    if not rule.get("to"):
                        self.fail(f"{at}: an egress rule without `to` allows every destination")
                        continue
                    if not rule.get("ports"):
                        self.fail(f"{at}: an egress rule without ports allows every port")
                    for target in self.peer_apps(rule["to"], at):
                        for port in rule.get("ports", []):
                            allowed_egress.add((app, target, port.get("port")))
                for rule in policy["spec"].get("ingress", []):
                    ports = [p.get("port") for p in rule.get("ports", [])]
                    if not ports:
                        self.fail(f"{at}: an ingress rule without ports allows every port")
                    if not rule.get("from"):
                        for port in ports:
                            if (app, port) not in node_ports:
                                self.fail(f"{at}: ingress from anywhere on {port}, which no NodePort Service exposes")
                        continue
                    for source in self.peer_apps(rule["from"], at):
                        for port in ports:
                            allowed_ingress.add((source, app, port))
        for policy in policies:
            if policy["spec"].get("podSelector") == {}:
                for rule in policy["spec"].get("egress", []):
                    if not is_dns_rule(rule):
                        self.fail(f"NetworkPolicy/{policy['metadata']['name']}: egress for every pod that is not exactly DNS: {rule}")
                if policy["spec"].get("ingress"):
                    self.fail(f"NetworkPolicy/{policy['metadata']['name']}: ingress for every pod")

        for source, target, port in sorted(self.calls, key=str):
            if source == target:
                continue
            if (source, target, port) not in allowed_egress:
                self.fail(f"NetworkPolicy: {source} calls {target}:{port}, but no egress rule allows it")
            if (source, target, port) not in allowed_ingress and (target, port) not in node_ports:
                self.fail(f"NetworkPolicy: {source} calls {target}:{port}, but {target} admits no ingress from it")
        for source, target, port in sorted(allowed_egress | allowed_ingress, key=str):
            if (source, target, port) not in self.calls:
                self.fail(f"NetworkPolicy: allows {source} -> {target}:{port}, which no workload calls")

    def peer_apps(self, peers, at):
        apps = []
        for peer in peers:
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if set(peer) != {"podSelector"} or set(labels) != {"app"}:
                self.fail(f"{at}: peer {peer} is not pods of this namespace selected by app (no ipBlock, no namespaceSelector, no empty selector)")
                continue
            apps.append(labels["app"])
        return apps


def looks_like_dns(rule):
    return any(p.get("port") == 53 for p in rule.get("ports", [])) or any(
        "kube-dns" in str(peer) or "kube-system" in str(peer) for peer in rule.get("to", []))


def is_dns_rule(rule):
    """Exactly CoreDNS on port 53: every peer is kube-system's kube-dns pods (namespace and pod
    selector in one peer), and every port is 53."""
    ports = {(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports", [])}
    peers = rule.get("to", [])
    return bool(peers) and bool(ports) and ports <= DNS_PORTS and all(peer == DNS_PEER for peer in peers)


def receives(container, ref):
    """Whether a container gets Secret key ref (by envFrom of the whole Secret or by its own env)."""
    if any(e.get("secretRef", {}).get("name") == ref["name"] and not e.get("prefix") for e in container.get("envFrom", [])):
        return True
    return any(e.get("valueFrom", {}).get("secretKeyRef", {}) in ({"name": ref["name"], "key": ref["key"]},)
               and e["name"] == ref["key"] for e in container.get("env", []))


def arg_after(args, flag):
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def problems(docs, facts):
    check = Check(docs, facts)
    if not check.m.workloads():
        return ["no Deployments, StatefulSets or Jobs found"]
    for step in (check.services, check.hpas, check.references, check.containers, check.platform,
                 check.addresses, check.replica_sets, check.network_policies):
        step()
    return check.errors
