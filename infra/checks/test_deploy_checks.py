"""Each deployment check fails on a deliberately broken copy of what it checks, and passes on the
real file, so a check that cannot fail is caught here."""

import copy
import pathlib
import shutil
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import deploy_checks as checks  # noqa: E402

ROOT = checks.ROOT


class Rendered:
    """The rendered k8s manifests, loaded once; each test breaks its own deep copy."""

    docs = None

    @classmethod
    def load(cls):
        if cls.docs is None:
            cls.docs = [d for d in yaml.safe_load_all(checks.render_kustomization(ROOT / "k8s")) if d]
        return copy.deepcopy(cls.docs)


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def container(docs, kind, name):
    return find(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]


class ManifestChecks(unittest.TestCase):
    def write(self, docs):
        path = pathlib.Path(self.tmp.name) / "rendered.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        return path

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def assert_cross_reference_fails(self, docs, expected):
        passed, out = checks.cross_references(self.write(docs))
        self.assertFalse(passed, "the broken copy passed")
        self.assertIn(expected, out)

    def test_real_manifests_pass_both_checks(self):
        path = self.write(Rendered.load())
        self.assertEqual(checks.kubernetes_validate(path)[0], True)
        self.assertEqual(checks.cross_references(path)[0], True)

    def test_strict_validation_rejects_an_unknown_field(self):
        docs = Rendered.load()
        find(docs, "Deployment", "users")["spec"]["replica"] = 3
        passed, out = checks.kubernetes_validate(self.write(docs))
        self.assertFalse(passed, out)

    def test_strict_validation_rejects_a_wrong_type(self):
        docs = Rendered.load()
        container(docs, "Deployment", "products")["ports"][0]["containerPort"] = "eight thousand"
        self.assertFalse(checks.kubernetes_validate(self.write(docs))[0])

    def test_service_selector_must_match_pods(self):
        docs = Rendered.load()
        find(docs, "Service", "users")["spec"]["selector"] = {"app": "userz"}
        self.assert_cross_reference_fails(docs, "matches no pod template")

    def test_service_must_target_a_declared_port(self):
        docs = Rendered.load()
        find(docs, "Service", "products")["spec"]["ports"][0]["targetPort"] = "web"
        self.assert_cross_reference_fails(docs, "targetPort 'web'")

    def test_hpa_must_target_an_existing_deployment(self):
        docs = Rendered.load()
        find(docs, "HorizontalPodAutoscaler", "users-hpa")["spec"]["scaleTargetRef"]["name"] = "user"
        self.assert_cross_reference_fails(docs, "does not exist")

    def test_hpa_target_must_request_cpu(self):
        docs = Rendered.load()
        del container(docs, "Deployment", "products")["resources"]["requests"]["cpu"]
        self.assert_cross_reference_fails(docs, "has no CPU request")

    def test_secret_keys_must_exist(self):
        docs = Rendered.load()
        del find(docs, "Secret", "ecommerce-secrets")["stringData"]["SERVICE_SECRET"]
        self.assert_cross_reference_fails(docs, "has no key 'SERVICE_SECRET'")

    def test_config_maps_must_exist(self):
        docs = [d for d in Rendered.load() if d["metadata"]["name"] != "ecommerce-config"]
        self.assert_cross_reference_fails(docs, "ConfigMap/ecommerce-config does not exist")

    def test_probes_are_required(self):
        docs = Rendered.load()
        del container(docs, "Deployment", "users")["readinessProbe"]
        self.assert_cross_reference_fails(docs, "has no readinessProbe")

    def test_deployments_need_a_restrictive_security_context(self):
        docs = Rendered.load()
        container(docs, "Deployment", "users")["securityContext"]["readOnlyRootFilesystem"] = False
        self.assert_cross_reference_fails(docs, "writable root filesystem")

    def test_every_pod_needs_its_own_network_policy(self):
        docs = [d for d in Rendered.load() if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "postgres")]
        self.assert_cross_reference_fails(docs, "StatefulSet/postgres: no NetworkPolicy")

    def test_default_deny_is_required(self):
        docs = [d for d in Rendered.load() if d["metadata"]["name"] != "default-deny-all"]
        self.assert_cross_reference_fails(docs, "no default deny")

    def test_a_real_call_must_be_allowed(self):
        docs = Rendered.load()
        policy = find(docs, "NetworkPolicy", "products")
        policy["spec"]["egress"] = [r for r in policy["spec"]["egress"] if r["to"][0]["podSelector"]["matchLabels"]["app"] != "users"]
        self.assert_cross_reference_fails(docs, "products calls users:8001, but no egress rule allows it")

    def test_an_allowed_path_must_be_a_real_call(self):
        docs = Rendered.load()
        find(docs, "NetworkPolicy", "users")["spec"]["egress"].append(
            {"to": [{"podSelector": {"matchLabels": {"app": "products"}}}], "ports": [{"protocol": "TCP", "port": 8002}]}
        )
        self.assert_cross_reference_fails(docs, "allows users -> products:8002, which no workload calls")

    def test_the_base_secret_is_not_what_deploy_applies(self):
        passed, out = checks.deploy_overlay(self.write(Rendered.load()))
        self.assertFalse(passed)
        self.assertIn("placeholder", out)

    def test_open_ingress_only_where_a_node_port_exposes(self):
        docs = Rendered.load()
        find(docs, "NetworkPolicy", "postgres")["spec"]["ingress"][0].pop("from")
        self.assert_cross_reference_fails(docs, "which no NodePort Service exposes")


class FileChecks(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp())

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def broken_copy(self, source, old, new, name=None):
        text = pathlib.Path(source).read_text()
        self.assertIn(old, text, f"{source} no longer contains {old!r}; update this test")
        path = self.tmp / (name or pathlib.Path(source).name)
        path.write_text(text.replace(old, new, 1))
        return path

    def test_compose_passes_and_fails_on_a_broken_copy(self):
        self.assertTrue(checks.compose_config(ROOT / "compose.yaml", ROOT / ".env.example")[0])
        # Compose resolves ./infra paths relative to the file, so the broken copy sits beside it.
        broken = self.broken_copy(ROOT / "compose.yaml", "condition: service_healthy", "condition: when_it_feels_like_it")
        target = ROOT / ".compose.broken-for-test.yaml"
        shutil.copy(broken, target)
        try:
            passed, out = checks.compose_config(target, ROOT / ".env.example")
        finally:
            target.unlink()
        self.assertFalse(passed, out)

    def test_compose_refuses_missing_secrets(self):
        env = self.broken_copy(ROOT / ".env.example", "SERVICE_SECRET=", "UNUSED_SECRET=", name="env")
        passed, out = checks.compose_config(ROOT / "compose.yaml", env)
        self.assertFalse(passed, out)
        self.assertIn("SERVICE_SECRET", out)

    def test_hadolint_passes_and_fails_on_a_broken_copy(self):
        self.assertTrue(checks.hadolint(ROOT / "infra/Dockerfile")[0])
        broken = self.broken_copy(ROOT / "infra/Dockerfile", "ARG RUST_IMAGE=rust:1.95.0-slim-bookworm", "ARG RUST_IMAGE=rust:1.95.0-slim-bookworm\nFROM rust:latest AS unpinned\nRUN cd /tmp && apt-get install curl")
        passed, out = checks.hadolint(broken)
        self.assertFalse(passed, out)

    def test_shellcheck_passes_and_fails_on_a_broken_copy(self):
        self.assertTrue(checks.shellcheck(checks.scripts())[0])
        broken = self.broken_copy(ROOT / "infra/scripts/cleanup.sh", "set -euo pipefail", "set -euo pipefail\nfor f in $(ls $HOME); do echo $f; done")
        passed, out = checks.shellcheck([broken])
        self.assertFalse(passed, out)

    def test_init_sql_drift_is_caught(self):
        self.assertTrue(checks.init_sql_matches(ROOT / "k8s", ROOT / "infra/db/init.sql")[0])
        broken = self.broken_copy(ROOT / "infra/db/init.sql", "CREATE DATABASE products;", "CREATE DATABASE catalogue;")
        self.assertFalse(checks.init_sql_matches(ROOT / "k8s", broken)[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
