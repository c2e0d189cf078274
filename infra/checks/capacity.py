"""Whether the node can hold what deploy.sh deploys, and how deploy.sh gets there: the CPU and
memory the manifests request (at the HPA minimum, plus what runs beside them while deploy.sh
works), the small overlay for a 2-CPU Minikube, the build for each container runtime, a failed
mongo-init Job, and startup probes that outlast each service's wait for its database.

Everything is computed here from the rendered manifests and the Rust sources, independently of
deploy.sh's own arithmetic (awk), which is run against stand-ins and must agree.
"""

import functools
import math
import re
import subprocess
import time

import yaml

import manifests
import script_runs
from manifests import cpu_millis, memory_mib

SMALL = "infra/overlays/small"
# Minikube without options: 2 CPUs and, on a small host, its minimum memory of 2200 MB.
SMALL_NODE = {"cpu": 2000, "mib": 2200}
# README: minikube start --cpus=4 --memory=8192 (allocatable is a little less than 8192 MiB).
FULL_NODE = {"cpu": 4000, "mib": 7957}
# What the startup probe must allow beyond a service's longest wait for its database: the process
# start, the migrations that follow the wait, and the probe period.
STARTUP_MARGIN_SECONDS = 30


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d]


def rendered(tree, path):
    """`kubectl kustomize <path>` of the tree, once per tree."""
    cache = tree.__dict__.setdefault("_kustomized", {})
    if path not in cache:
        result = subprocess.run(["kubectl", "kustomize", str(tree.path(path))], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"kubectl kustomize {path} failed:\n{result.stderr}")
        cache[path] = result.stdout
    return cache[path]


# -- requests -----------------------------------------------------------------------------------

def pod_requests(workload):
    """(millicores, MiB) the scheduler reserves for one pod: its containers' sum, or its largest
    init container's, whichever is larger."""
    spec = workload["spec"]["template"]["spec"]

    def of(container):
        requests = container.get("resources", {}).get("requests", {})
        return cpu_millis(requests.get("cpu")) or 0, memory_mib(requests.get("memory", 0)) or 0

    main = [of(c) for c in spec.get("containers", [])]
    init = [of(c) for c in spec.get("initContainers", [])]
    return (max(sum(c for c, _ in main), max((c for c, _ in init), default=0)),
            max(sum(m for _, m in main), max((m for _, m in init), default=0)))


def surge_of(deployment, replicas):
    surge = deployment["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


def requests(docs):
    """What the platform requests: base (every Deployment at its HPA's minReplicas, every
    StatefulSet at its replicas), the Jobs (which run beside the base before the services roll),
    and the largest surge of one Deployment's rollout (deploy.sh rolls them one at a time)."""
    m = manifests.Manifests(docs)
    minimum = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"] for h in m.of("HorizontalPodAutoscaler")
               if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"}
    out = {"base_cpu": 0, "base_mib": 0, "job_cpu": 0, "job_mib": 0, "surge_cpu": 0, "surge_mib": 0, "pods": 0,
           "replicas": {}}
    for d in m.of("Deployment"):
        name = d["metadata"]["name"]
        replicas = minimum.get(name, d["spec"].get("replicas", 1))
        cpu, mib = pod_requests(d)
        surge = surge_of(d, replicas)
        out["replicas"][name] = replicas
        out["base_cpu"] += replicas * cpu
        out["base_mib"] += replicas * mib
        out["pods"] += replicas
        out["surge_cpu"] = max(out["surge_cpu"], surge * cpu)
        out["surge_mib"] = max(out["surge_mib"], surge * mib)
    for s in m.of("StatefulSet"):
        cpu, mib = pod_requests(s)
        replicas = s["spec"].get("replicas", 1)
        out["base_cpu"] += replicas * cpu
        out["base_mib"] += replicas * mib
        out["pods"] += replicas
    for j in m.of("Job"):
        cpu, mib = pod_requests(j)
        out["job_cpu"] += j["spec"].get("parallelism", 1) * cpu
        out["job_mib"] += j["spec"].get("parallelism", 1) * mib
    out["need_cpu"] = math.ceil(out["base_cpu"] + max(out["job_cpu"], out["surge_cpu"]))
    out["need_mib"] = math.ceil(out["base_mib"] + max(out["job_mib"], out["surge_mib"]))
    return out


def minikube_requests():
    """(millicores, MiB) Minikube's own pods request: kube-system, metrics-server, calico."""
    cpu = sum(cpu_millis(c) or 0 for _, c, _ in script_runs.MINIKUBE_PODS.values() if c)
    mib = sum(memory_mib(m) or 0 for _, _, m in script_runs.MINIKUBE_PODS.values() if m)
    return cpu, math.ceil(mib)


REPORTED = re.compile(r"requests (\d+)m CPU and (\d+) MiB: (\d+)m and (\d+) MiB for its (\d+) pods at the HPA minimum, "
                      r"plus the larger of the mongo-init Job \((\d+)m, (\d+) MiB\) and one rollout's surge \((\d+)m, (\d+) MiB\)")
REPORTED_KEYS = ["need_cpu", "need_mib", "base_cpu", "base_mib", "pods", "job_cpu", "job_mib", "surge_cpu", "surge_mib"]


def fits(need, node, system):
    return need["need_cpu"] <= node["cpu"] - system[0] and need["need_mib"] <= node["mib"] - system[1]


def sized(tree):
    """The platform fits a 4-CPU Minikube, the small overlay (one replica per service) a 2-CPU one,
    each with Minikube's own pods; deploy.sh computes the same numbers."""
    problems = []
    system = minikube_requests()
    full = requests(docs_of(tree.base_text))
    small_text = rendered(tree, SMALL)
    small = requests(docs_of(small_text))
    for name, need, node in (("the platform (k8s/)", full, FULL_NODE), (f"the small platform ({SMALL})", small, SMALL_NODE)):
        if not fits(need, node, system):
            problems.append(f"{name} requests {need['need_cpu']}m CPU and {need['need_mib']} MiB (at the HPA minimum plus the "
                            f"larger of the Job and one surge), but a {node['cpu'] // 1000}-CPU {node['mib']} MiB Minikube has "
                            f"{node['cpu'] - system[0]}m and {node['mib'] - system[1]} MiB left after its own pods")
    more = {n: r for n, r in small["replicas"].items() if r != 1}
    if more or not small["replicas"]:
        problems.append(f"{SMALL} must run one replica per service at the HPA minimum, not {more or 'none'}")
    if set(small["replicas"]) != set(full["replicas"]):
        problems.append(f"{SMALL} runs {sorted(small['replicas'])}, the base {sorted(full['replicas'])}")
    facts = tree.facts
    secrets = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": n, "namespace": facts.namespace},
                "data": {k: "" for k in keys}} for n, keys in tree.listed_secrets.items()]
    problems += [f"{SMALL}: {p}" for p in manifests.problems(secrets + docs_of(small_text), facts)]
    for args, expected in (((), full), (("--small",), small)):
        code, out, _ = script_runs.run(tree.root, "deploy.sh", *args)
        command = " ".join(["deploy.sh", *args])
        match = REPORTED.search(out)
        if not match:
            problems.append(f"{command} does not report what the platform requests:\n{out}")
            continue
        reported = dict(zip(REPORTED_KEYS, map(int, match.groups())))
        wanted = {k: math.ceil(expected[k]) for k in REPORTED_KEYS}
        if reported != wanted:
            problems.append(f"{command} computes {reported}, the manifests request {wanted}")
    return problems


# -- deploy.sh against stand-ins ---------------------------------------------------------------

TWO_CPUS = {"nodes": ["node|2|8148240Ki"], "profile": script_runs.profile_json(cpus=2, memory=8192)}


def is_build(call):
    args = call["args"]
    return (call["tool"] == "docker" and "build" in args) or (call["tool"] == "minikube" and args[2:4] in (["image", "build"], ["image", "load"]))


def changes(calls):
    """Calls that change the cluster or build: what a refusal must come before."""
    return [c for c in calls if is_build(c) or (c["tool"] == "kubectl" and not c.get("offline")
                                                 and any(a in c["args"] for a in ("apply", "create", "patch", "delete")))]


def deploy_refuses_a_small_node(tree):
    full = requests(docs_of(tree.base_text))
    small = requests(docs_of(rendered(tree, SMALL)))
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state=TWO_CPUS)
    problems = []
    done = changes(calls)
    if code == 0 or done:
        problems.append("deploy.sh on a 2-CPU node must refuse the platform before it builds or changes anything "
                        f"(exit {code}; it ran {[' '.join(c['args'][2:5]) for c in done][:4]})")
    for expected in (f"{full['need_cpu']}m CPU", "minikube --profile minikube start --cpus=4 --memory=8192", "--small",
                     f"{small['need_cpu']}m CPU"):
        if code != 0 and expected not in out:
            problems.append(f"deploy.sh's refusal on a 2-CPU node does not say {expected!r}:\n{out}")
    # Review finding: a failed `kubectl get pods` counted as a node with nothing else on it, and the
    # 20-minute build went ahead.
    code, out, calls = script_runs.run(tree.root, "deploy.sh", env={"STUB_PODS_FAIL": "1"})
    if code == 0 or changes(calls) or "not building" not in out:
        problems.append(f"deploy.sh must stop before building when it cannot list the pods' requests (exit {code}):\n{out}")
    code, out, calls = script_runs.run(tree.root, "deploy.sh", "--small", state=TWO_CPUS)
    applied = [c["args"] for c in calls if c["tool"] == "kubectl" and "apply" in c["args"] and "-k" in c["args"]]
    if code != 0:
        problems.append(f"deploy.sh --small on a 2-CPU node (with calico and metrics-server) failed:\n{out}")
    elif not applied or any(a[a.index("-k") + 1] != str(tree.path(SMALL)) for a in applied):
        problems.append(f"deploy.sh --small must apply {SMALL} only (applied {[a[a.index('-k') + 1] for a in applied]})")
    return problems


def deploy_builds_for_the_runtime(tree):
    """docker: the node's Docker (docker-env); containerd and cri-o: `minikube image build`."""
    image = tree.facts.image
    problems = []
    for runtime in ("docker://28.1.1", "containerd://2.1.1", "cri-o://1.34.0"):
        code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"runtime": runtime})
        builds = [c for c in calls if is_build(c)]
        docker_env = any(c["tool"] == "minikube" and "docker-env" in c["args"] for c in calls)
        if code != 0:
            problems.append(f"deploy.sh on {runtime} failed:\n{out}")
            continue
        if runtime.startswith("docker"):
            ok = docker_env and len(builds) == 1 and builds[0]["tool"] == "docker"
        else:
            args = builds[0]["args"] if len(builds) == 1 else []
            ok = (not docker_env and args[2:4] == ["image", "build"] and args[args.index("-t") + 1] == image
                  and args[args.index("-f") + 1] == "infra/Dockerfile" and args[-1] == str(tree.root))
        if not ok:
            problems.append(f"deploy.sh on {runtime} must build with "
                            f"{'the node Docker (docker-env)' if runtime.startswith('docker') else 'minikube image build -t ' + image + ' -f infra/Dockerfile <repo>'}"
                            f" (built with {[' '.join(c['args']) for c in builds]})")
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"runtime": "rkt://1"})
    if code == 0 or changes(calls):
        problems.append("deploy.sh on a runtime it cannot build for must stop before changing anything")
    return problems


def deploy_loads_an_image(tree):
    image = tree.facts.image
    problems = []
    code, out, calls = script_runs.run(tree.root, "deploy.sh", "--load", state={"host_images": [image]})
    loads = [c["args"] for c in calls if c["tool"] == "minikube" and "load" in c["args"]]
    builds = [c for c in calls if is_build(c) and "load" not in c["args"]]
    if code != 0 or loads != [["--profile", "minikube", "image", "load", image]] or builds:
        problems.append(f"deploy.sh --load must load {image} with `minikube image load` and build nothing "
                        f"(loaded {loads}, built {len(builds)}):\n{out}")
    code, out, calls = script_runs.run(tree.root, "deploy.sh", "--load")
    if code == 0 or changes(calls) or "docker compose build" not in out:
        problems.append("deploy.sh --load without the image in this machine's Docker must stop before changing anything "
                        f"and say how to build it (docker compose build):\n{out}")
    return problems


def dockerfile_args(tree):
    import sources

    dockerfile = sources.Dockerfile(tree.path("infra/Dockerfile").read_text())
    return {m.group(1) for _, instructions in dockerfile.stages for i in instructions
            for m in [re.match(r"ARG\s+(\w+)", i, re.I)] if m}


def deploy_builds_within_the_node_memory(tree):
    """A node with 4-5 GiB builds with one compile job (the Dockerfile's CARGO_BUILD_JOBS); under
    4 GiB, deploy.sh refuses to build there and says how to load an image instead."""
    problems = []
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"profile": script_runs.profile_json(memory=4600)})
    builds = [c["args"] for c in calls if c["tool"] == "docker" and "build" in c["args"]]
    jobs = [a for b in builds for a in b if "CARGO_BUILD_JOBS" in a]
    if code != 0 or jobs != ["--build-arg=CARGO_BUILD_JOBS=1"]:
        problems.append(f"deploy.sh on a 4.6 GB node must build with --build-arg=CARGO_BUILD_JOBS=1 (built with {builds}):\n{out}")
    if "CARGO_BUILD_JOBS" not in dockerfile_args(tree):
        problems.append("infra/Dockerfile declares no ARG CARGO_BUILD_JOBS, which deploy.sh passes on a small node")
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"profile": script_runs.profile_json(memory=3000)})
    if code == 0 or changes(calls) or "--load" not in out:
        problems.append(f"deploy.sh on a 3 GB node must refuse to build there before changing anything, and point to --load:\n{out}")
    return problems


def deploy_stops_on_a_failed_job(tree):
    state = {"job": "Failed: BackoffLimitExceeded Job has reached the specified backoff limit",
             "job_log": "mongo-init: replSetInitiate failed: the stand-in's reason"}
    started = time.monotonic()
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state=state, env={"MONGO_INIT_TIMEOUT_SECS": "20"})
    took = time.monotonic() - started
    problems = []
    logs = [c for c in calls if c["tool"] == "kubectl" and "logs" in c["args"] and "job/mongo-init" in c["args"]]
    later = [c for c in calls if c["tool"] == "kubectl" and ("rollout" in c["args"] or any("component=service," in a for a in c["args"]))
             and "statefulset/postgres" not in c["args"]]
    if code == 0 or not logs or "the stand-in's reason" not in out or "BackoffLimitExceeded" not in out or later or took > 15:
        problems.append(f"deploy.sh must stop at once when the mongo-init Job has failed, print its log and the reason, and "
                        f"deploy no service (exit {code}, {len(logs)} log calls, {len(later)} later calls, {took:.0f} s):\n{out}")
    return problems


def selects(selector, labels):
    """A kubectl -l selector (k=v, k!=v, comma = and) on an object's labels."""
    for term in selector.split(","):
        key, op, value = re.match(r"([^!=]+)(!=|==|=)(.*)", term).groups()
        if (labels.get(key) == value) != (op != "!="):
            return False
    return True


def deploy_order(tree):
    """Databases before services; the services' Deployments applied and rolled one at a time (what
    the capacity check counts); every object applied."""
    docs = docs_of(tree.base_text)
    deployments = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    problems = []
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"deployments": deployments})
    calls = script_runs.cluster_calls(calls)
    if code != 0:
        return [f"deploy.sh failed:\n{out}"]
    applies = [(i, c["args"]) for i, c in enumerate(calls) if "apply" in c["args"] and "-k" in c["args"]]
    if not applies:
        return ["deploy.sh applies nothing with -k"]
    applied = {}
    for i, args in applies:
        selector = args[args.index("-l") + 1] if "-l" in args else ""
        chosen = [d for d in docs if not selector or selects(selector, d["metadata"].get("labels") or {})]
        for d in chosen:
            applied.setdefault((d["kind"], d["metadata"]["name"]), []).append(i)
    first = applies[0][0]
    missing = [f"{k}/{n}" for d in docs for k, n in [(d["kind"], d["metadata"]["name"])] if (k, n) not in applied]
    if missing:
        problems.append(f"deploy.sh never applies {missing}")
    early = [n for n in deployments if any(i == first for i in applied.get(("Deployment", n), []))]
    if early:
        problems.append(f"deploy.sh applies Deployments {early} with the databases, before they are Ready")
    waited = [i for i, c in enumerate(calls) if c["args"][2:4] == ["rollout", "status"] and c["args"][4].startswith("statefulset/")]
    job = [i for i, c in enumerate(calls) if c["args"][2:4] == ["get", "job"]]
    ready = max(waited + job, default=None)
    order = []
    for name in deployments:
        at = applied.get(("Deployment", name), [])
        if len(at) != 1 or ready is None or at[0] < ready:
            problems.append(f"deploy.sh must apply Deployment/{name} once, after the databases are Ready (applied at calls {at})")
            continue
        rolled = [i for i, c in enumerate(calls) if c["args"][2:4] == ["rollout", "status"] and f"deployment/{name}" in c["args"]]
        restarted = [i for i, c in enumerate(calls) if c["args"][2:4] == ["rollout", "restart"] and f"deployment/{name}" in c["args"]]
        if len(restarted) != 1 or len(rolled) != 1 or not at[0] < restarted[0] < rolled[0]:
            problems.append(f"deploy.sh must restart an existing Deployment/{name} after applying it and wait for its "
                            f"rollout (applied {at}, restarted {restarted}, waited {rolled})")
            continue
        order.append((at[0], rolled[0]))
    bulk = [" ".join(c["args"]) for c in calls if c["args"][2:4] == ["rollout", "restart"] and not any(a.startswith("deployment/") for a in c["args"])]
    if bulk:
        problems.append(f"deploy.sh restarts several Deployments at once ({bulk}): their surges would add up")
    order.sort()
    for (start, end), (next_start, _) in zip(order, order[1:]):
        if next_start < end:
            problems.append("deploy.sh starts a Deployment's rollout before the previous one finished: their surges would add up")
            break
    return problems


SCENARIOS = [deploy_refuses_a_small_node, deploy_builds_for_the_runtime, deploy_loads_an_image,
             deploy_builds_within_the_node_memory, deploy_stops_on_a_failed_job, deploy_order]


# -- start-up -------------------------------------------------------------------------------------

def rust_const_secs(text, name):
    match = re.search(rf"const\s+{name}\s*:\s*Duration\s*=\s*Duration::from_secs\((\d+)\)", text)
    return int(match.group(1)) if match else None


def database_waits(root):
    """How long a service may wait for its database before it listens, by URL scheme, from the
    Rust sources: {scheme: (seconds, the variable that overrides it or None, where)}."""
    waits = {}
    sql = (root / "crates/storage/src/sql.rs").read_text()
    url = (root / "crates/storage/src/url.rs").read_text()
    settings = (root / "src/settings.rs").read_text()
    patience = re.search(r'seconds_or\(\s*"(\w+)"\s*,\s*Database::(\w+)\s*,?\s*\)', settings)
    acquire = re.search(r"\.acquire_timeout\((\w+)\)", sql)
    if patience and rust_const_secs(url, patience.group(2)) is not None:
        # The last attempt starts before the deadline and may take a whole acquire timeout.
        extra = (rust_const_secs(sql, acquire.group(1)) or 0) if acquire else 0
        waits["postgres"] = (rust_const_secs(url, patience.group(2)), extra, patience.group(1), "crates/storage/src/url.rs")
    mongo = (root / "crates/storage/src/mongo.rs").read_text()
    selection = re.search(r"server_selection_timeout\s*\.get_or_insert\(Duration::from_secs\((\d+)\)\)", mongo)
    if selection:
        waits["mongodb"] = (int(selection.group(1)), 0, None, "crates/storage/src/mongo.rs")
    return waits


def startup_budget(tree):
    """Each service's startup probe allows longer than the service may wait for its database
    before it listens (storage::sql waits up to DATABASE_STARTUP_TIMEOUT_SECS), with a margin."""
    waits = database_waits(tree.root)
    problems = []
    for scheme in ("postgres", "mongodb"):
        if scheme not in waits:
            problems.append(f"cannot find how long a service waits for {scheme} in the Rust sources "
                            "(src/settings.rs, crates/storage/src/url.rs, sql.rs, mongo.rs): update infra/checks/capacity.py")
    docs = tree.checked
    config = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            config.update(doc.get("data") or {})
    for w in docs:
        if w["kind"] != "Deployment":
            continue
        for c in manifests.containers(w, init=False):
            url = manifests.env_value(c, "DATABASE_URL")
            if not url:
                continue
            scheme = url.split(":", 1)[0]
            if scheme not in waits:
                continue
            seconds, extra, variable, where = waits[scheme]
            override = manifests.env_value(c, variable) if variable else None
            override = override or (config.get(variable) if variable else None)
            wait = (int(override) if override else seconds) + extra
            probe = c.get("startupProbe") or {}
            budget = probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
            if budget < wait + STARTUP_MARGIN_SECONDS:
                source = f"{variable}={override}" if override else f"{where}"
                problems.append(f"Deployment/{w['metadata']['name']}: its startupProbe allows {budget} s, but it waits up to "
                                f"{wait} s for {scheme} before it listens ({source}): give it at least "
                                f"{wait + STARTUP_MARGIN_SECONDS} s, or the kubelet restarts it while the database comes up")
    return problems


# -- Jobs ---------------------------------------------------------------------------------------

def jobs(tree):
    """A failed Job fails at once and keeps its pod, whose log deploy.sh prints: restartPolicy
    Never (with OnFailure the pod goes when the Job fails), and no retries of a script that
    retries by itself."""
    problems = []
    script = tree.path("infra/db/mongo-init.js").read_text()
    for job in (d for d in tree.checked if d["kind"] == "Job"):
        at = f"Job/{job['metadata']['name']}"
        spec = job["spec"]
        if spec["template"]["spec"].get("restartPolicy") != "Never":
            problems.append(f"{at}: restartPolicy {spec['template']['spec'].get('restartPolicy')}: when the Job fails its pod is "
                            "deleted, and the log deploy.sh prints with it; use Never")
        if "MONGO_INIT_WAIT_SECONDS" in script and spec.get("backoffLimit", 6) != 0:
            problems.append(f"{at}: backoffLimit {spec.get('backoffLimit', 6)} reruns mongo-init.js, which already waits and retries "
                            "by itself (MONGO_INIT_WAIT_SECONDS): a failed run is an error a rerun repeats, and the deploy waits for "
                            "every rerun; use 0")
    return problems
