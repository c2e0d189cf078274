"""Runs the deployment scripts against stand-ins for kubectl, minikube, docker, curl and jq, and
returns every call they made, so the checks can see what a script does to a cluster without one:
which context each call targets, what it builds, in which order it creates Secrets and applies.

The stand-ins answer from a small state (which contexts, Secrets and volumes exist, what the node
has and runs, how the mongo-init Job ended). kubectl's offline commands (kustomize, config,
create --dry-run=client, patch --local) run the real kubectl. Queries through a jsonpath template
are answered in the shape of deploy.sh's templates (node: `node|<cpu>|<memory>`, pods:
`pod|<namespace>|<cpu>,<memory>;...|<init containers>`, Job: `<condition>: <reason> <message>`).
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

STUB = r"""#!/usr/bin/env bash
# A stand-in for kubectl, minikube, docker, curl or jq (by its name): logs its arguments, answers
# from the STUB_* state.
tool=${0##*/}
log() {
  { printf '%s' "$1"; shift; printf '\x1f%s' "$@"; printf '\n'; } >>"$STUB_LOG"
}
words=()
skip=""
for arg in "$@"; do
  if [[ -n $skip ]]; then skip=""; continue; fi
  case $arg in
    --context | --profile | -p | -n | --namespace | -o | --output | --timeout | --type | --patch-file | --shell | -f | -t | --for | -l | --selector) skip=1 ;;
    -*) ;;
    *) words+=("$arg") ;;
  esac
done
first=${words[0]:-}
second=${words[1]:-}
third=${words[2]:-}
case $tool in
  kubectl)
    if [[ $first == config ]]; then
      log kubectl-offline "$@"
      [[ $second == get-contexts && " $STUB_CONTEXTS " == *" $third "* ]]
      exit
    fi
    if [[ $first == kustomize || " $* " == *" --dry-run=client "* || " $* " == *" --local "* ]]; then
      log kubectl-offline "$@"
      exec "$STUB_REAL_KUBECTL" "$@"
    fi
    n=$(wc -l <"$STUB_LOG")
    log kubectl "$@"
    case "$first $second" in
      "get secret")
        var="STUB_SECRET_${third//-/_}"
        [[ -n ${!var+set} ]] || exit 1
        if [[ " $* " == *go-template* ]]; then printf '%s ' ${!var}; else printf 'c3RhbmQtaW4='; fi ;;
      "get pvc") [[ " $STUB_PVCS " == *" $third "* ]] || exit 1 ;;
      "get nodes")
        if [[ " $* " == *allocatable* ]]; then printf '%s\n' "$STUB_NODES"; else printf '%s' "$STUB_RUNTIME"; fi ;;
      "get pods")
        if [[ " $* " == *" --all-namespaces "* || " $* " == *" -A "* ]]; then
          [[ ${STUB_PODS_FAIL:-} != 1 ]] || { echo "error: the server was unable to return a response" >&2; exit 1; }
          printf '%s\n' "$STUB_PODS"
        elif [[ $STUB_CNI == 1 ]]; then echo pod/calico-node-x; else echo pod/coredns-x; fi ;;
      "get job") printf '%s\n' "$STUB_JOB" ;;
      "logs "*) printf '%s\n' "$STUB_JOB_LOG" ;;
      "get services") printf '%s ' $STUB_NODE_PORTS ;;
      "get deployments") for name in $STUB_DEPLOYMENTS; do echo "deployment.apps/$name"; done ;;
      "create secret")
        for arg in "$@"; do
          [[ $arg == --from-file=* ]] && cp -r "${arg#--from-file=}" "$STUB_DIR/secret-$n"
        done ;;
      "patch secret")
        while [[ $# -gt 0 ]]; do
          [[ $1 == --patch-file ]] && cp "$2" "$STUB_DIR/patch-$n"
          shift
        done ;;
    esac
    exit 0 ;;
  minikube)
    log minikube "$@"
    case $first in
      docker-env) echo 'export DOCKER_HOST="tcp://127.0.0.1:9"' ;;
      profile) printf '%s\n' "$STUB_PROFILE_JSON" ;;
      service) echo "http://127.0.0.1:9" ;;
      ip) echo "192.168.49.2" ;;
    esac ;;
  curl) log curl "$@"; exit 7 ;;
  jq) echo null ;;
  docker)
    log docker "$@"
    if [[ "$first $second" == "image inspect" ]]; then [[ " $STUB_HOST_IMAGES " == *" $third "* ]]; exit; fi ;;
  *) log "$tool" "$@" ;;
esac
exit 0
"""

# What a Minikube node runs besides the platform, with the CPU and memory each pod requests:
# kubeadm's control plane and CoreDNS, `minikube addons enable metrics-server`, and `--cni=calico`.
MINIKUBE_PODS = {
    "kube-apiserver": ("kube-system", "250m", ""),
    "kube-controller-manager": ("kube-system", "200m", ""),
    "kube-scheduler": ("kube-system", "100m", ""),
    "etcd": ("kube-system", "100m", "100Mi"),
    "coredns": ("kube-system", "100m", "70Mi"),
    "kube-proxy": ("kube-system", "", ""),
    "storage-provisioner": ("kube-system", "", ""),
    "metrics-server": ("kube-system", "100m", "200Mi"),
    "calico-node": ("kube-system", "250m", ""),
    "calico-kube-controllers": ("kube-system", "", ""),
}


def pod_lines(pods=MINIKUBE_PODS):
    return [f"pod|{namespace}|{cpu},{memory};|" for namespace, cpu, memory in pods.values()]


def profile_json(name="minikube", cpus=4, memory=8192):
    """`minikube profile list -o json` with one profile (the fields before the first nested one,
    in minikube's order)."""
    config = {"Name": name, "KeepContext": False, "EmbedCerts": False, "MinikubeISO": "", "KicBaseImage": "kicbase",
              "Memory": memory, "CPUs": cpus, "DiskSize": 20000, "Driver": "docker", "HyperkitVpnKitSock": "",
              "HyperkitVSockPorts": [], "KubernetesConfig": {"KubernetesVersion": "v1.34.0", "ContainerRuntime": "docker"}}
    return json.dumps({"invalid": [], "valid": [{"Name": name, "Status": "OK", "Config": config, "Active": False}]},
                      separators=(",", ":"))


# A fresh 4-CPU, 8 GiB Minikube with calico and metrics-server; mongo-init completes.
FRESH = {"contexts": ["minikube"], "secrets": {}, "pvcs": [], "runtime": "docker://28.1.1", "cni": True,
         "node_ports": ["users", "products", "cart", "orders", "router"], "deployments": [],
         "nodes": ["node|4|8148240Ki"], "pods": pod_lines(), "profile": profile_json(),
         "job": "Complete:  ", "job_log": "mongo-init: ready (2 service users)", "host_images": []}


def run(root, script, *args, state=None, env=None):
    """(exit code, output, calls) of infra/scripts/<script> run with stand-ins on PATH. Each call
    is {"tool", "args"}, plus "offline" for kubectl commands that read only files, "values" for
    the Secret files `create secret --from-file` was given, "patch" for a patch file."""
    root = pathlib.Path(root)
    state = {**FRESH, **(state or {})}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        for tool in ("kubectl", "minikube", "docker", "curl", "jq"):
            (bin_dir / tool).write_text(STUB)
            (bin_dir / tool).chmod(0o755)
        log = tmp / "calls"
        log.touch()
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("KUBE_CONTEXT", "MINIKUBE_PROFILE", "KUBECONFIG") and not k.startswith("STUB_")}
        environment.update({
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "STUB_LOG": str(log),
            "STUB_DIR": str(tmp),
            "STUB_REAL_KUBECTL": shutil.which("kubectl") or "false",
            "STUB_CONTEXTS": " ".join(state["contexts"]),
            "STUB_PVCS": " ".join(state["pvcs"]),
            "STUB_RUNTIME": state["runtime"],
            "STUB_CNI": "1" if state["cni"] else "0",
            "STUB_NODE_PORTS": " ".join(state["node_ports"]),
            "STUB_DEPLOYMENTS": " ".join(state["deployments"]),
            "STUB_NODES": "\n".join(state["nodes"]),
            "STUB_PODS": "\n".join(state["pods"]),
            "STUB_PROFILE_JSON": state["profile"],
            "STUB_JOB": state["job"],
            "STUB_JOB_LOG": state["job_log"],
            "STUB_HOST_IMAGES": " ".join(state["host_images"]),
            "KUBECONFIG": str(tmp / "no-kubeconfig"),
            **{f"STUB_SECRET_{name.replace('-', '_')}": " ".join(keys) for name, keys in state["secrets"].items()},
            **(env or {}),
        })
        result = subprocess.run(["bash", str(root / "infra/scripts" / script), *args], cwd=tmp, env=environment,
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        calls = []
        for n, line in enumerate(log.read_text().splitlines()):
            tool, *call_args = line.split("\x1f")
            call = {"tool": tool.replace("-offline", ""), "args": call_args}
            if tool.endswith("-offline"):
                call["offline"] = True
            if (tmp / f"secret-{n}").is_dir():
                call["values"] = {p.name: p.read_text() for p in sorted((tmp / f"secret-{n}").iterdir())}
            if (tmp / f"patch-{n}").is_file():
                call["patch"] = json.loads((tmp / f"patch-{n}").read_text())
            calls.append(call)
    return result.returncode, result.stdout + result.stderr, calls


def cluster_calls(calls):
    return [c for c in calls if c["tool"] in ("kubectl", "minikube") and not c.get("offline")]


def unpinned(calls, context="minikube", profile="minikube"):
    """The cluster calls that do not name the context (kubectl) or profile (minikube) first."""
    bad = []
    for call in cluster_calls(calls):
        expected = ["--context", context] if call["tool"] == "kubectl" else ["--profile", profile]
        if call["args"][:2] != expected:
            bad.append(f"{call['tool']} {' '.join(call['args'])}")
    return bad
