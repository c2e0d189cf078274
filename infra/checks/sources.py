"""What the deployment files must agree with, read from where it is defined: the Rust sources
(routes each service serves, the launcher's subcommands, the crate version), infra/db/init.sql,
infra/services.yaml, the Dockerfile and .dockerignore. Nothing here is a copy that could drift."""

import importlib.util
import pathlib
import re
import tomllib

ROUTE = re.compile(r'\.route\(\s*"([^"]+)"')


def load_render(root):
    """infra/render.py of the tree being checked (a broken copy has its own)."""
    spec = importlib.util.spec_from_file_location(f"render_{abs(hash(str(root)))}", pathlib.Path(root) / "infra/render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def without_tests(text):
    """Rust source up to its `#[cfg(test)]` module: routes of test routers are not served."""
    return text.split("#[cfg(test)]", 1)[0]


def literal_routes(paths):
    routes = set()
    for path in paths:
        routes |= set(ROUTE.findall(without_tests(path.read_text())))
    return routes


# What a crate's router is built from: calling one of these shared functions merges the routes
# declared in those files of the shared crates (crates/).
SHARED_ROUTERS = {
    "web::http::service(": ("web/src/http/layers.rs", "web/src/health.rs"),
    "subgraph::graphql::routes(": ("subgraph/src/graphql.rs",),
    # A whole subgraph service (its façade implements the Subgraph trait, which `Service::new`
    # serves): its GraphQL routes, health and metrics.
    "impl subgraph::Subgraph for ": ("subgraph/src/graphql.rs", "web/src/http/layers.rs", "web/src/health.rs"),
}


def served_routes(root, source, extra=()):
    """Every path literal routed by the crate at `source` (and the shared routers it merges)."""
    root = pathlib.Path(root)
    crate = root / source
    files = sorted(crate.glob("src/**/*.rs")) if (crate / "src").is_dir() else sorted(crate.glob("**/*.rs"))
    if not files:
        return None
    routes = literal_routes(files)
    text = "".join(without_tests(f.read_text()) for f in files)
    for call, shared_files in SHARED_ROUTERS.items():
        if call in text:
            routes |= literal_routes(root / "crates" / f for f in shared_files)
    return routes | set(extra)


def route_matches(path, routes):
    """Whether a concrete path is served by one of the route templates (`/api/users/{id}`)."""
    path = path.split("?", 1)[0] or "/"
    for route in routes:
        pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(route)) + "$"
        if re.match(pattern, path):
            return True
    return False


def launcher_services(root):
    """The `ecommerce serve <service>` values: the launcher's `enum Service` (clap ValueEnum,
    so CamelCase variants become kebab-case)."""
    text = (pathlib.Path(root) / "src/main.rs").read_text()
    match = re.search(r"enum\s+Service\s*\{([^}]*)\}", text)
    if not match:
        return None
    body = re.sub(r"//[^\n]*|#\[[^\]]*\]", "", match.group(1))
    variants = [v.strip() for v in body.split(",") if v.strip()]
    return {re.sub(r"(?<!^)([A-Z])", r"-\1", v).lower() for v in variants}


def launcher_commands(root):
    text = (pathlib.Path(root) / "src/main.rs").read_text()
    match = re.search(r"enum\s+Command\s*\{(.*?)\n\}", text, re.S)
    if not match:
        return set()
    return {re.sub(r"(?<!^)([A-Z])", r"-\1", v).lower() for v in re.findall(r"^\s{4}([A-Z]\w*)", match.group(1), re.M)}


def crate_version(root):
    return tomllib.loads((pathlib.Path(root) / "Cargo.toml").read_text())["package"]["version"]


def workspace_members(root):
    return tomllib.loads((pathlib.Path(root) / "Cargo.toml").read_text())["workspace"]["members"]


def crate_uses(root, source, dependency):
    manifest = pathlib.Path(root) / source / "Cargo.toml"
    if not manifest.is_file():
        return False
    deps = tomllib.loads(manifest.read_text()).get("dependencies", {})
    return dependency in deps


class InitSql:
    """The databases and login roles infra/db/init.sql creates, and the environment variable
    each role's password is read from (`\\getenv`)."""

    def __init__(self, text):
        self.databases = {}  # name -> owner
        self.roles = {}  # name -> env var of its password (None when not from the environment)
        getenv = dict((var, env) for var, env in re.findall(r"^\\getenv\s+(\w+)\s+(\w+)", text, re.M))
        for role, var in re.findall(r"^CREATE ROLE\s+(\w+)\s+LOGIN\s+PASSWORD\s+:'(\w+)'", text, re.M | re.I):
            self.roles[role] = getenv.get(var)
        for name, owner in re.findall(r"^CREATE DATABASE\s+(\w+)(?:\s+OWNER\s+(\w+))?", text, re.M | re.I):
            self.databases[name] = owner or None


class Dockerfile:
    def __init__(self, text):
        lines = re.sub(r"\\\n", " ", text).splitlines()
        self.stages = []  # (name, [instructions])
        for line in lines:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.upper().startswith("FROM "):
                match = re.search(r"\sAS\s+(\S+)\s*$", stripped, re.I)
                self.stages.append((match.group(1) if match else None, []))
            elif self.stages:
                self.stages[-1][1].append(stripped)

    @property
    def final_stage(self):
        return self.stages[-1][0] if self.stages else None

    def entrypoint(self, stage=None):
        """The exec-form ENTRYPOINT of a stage (default: the final one), following FROM <stage>."""
        for name, instructions in reversed(self.stages):
            if stage is not None and name != stage:
                continue
            for instruction in reversed(instructions):
                match = re.match(r'ENTRYPOINT\s+\["([^"]+)"', instruction, re.I)
                if match:
                    return match.group(1)
            return None
        return None


class DockerIgnore:
    """`.dockerignore` as BuildKit reads it: patterns relative to the context, `**` across
    folders, `!` re-includes, the last matching pattern wins, and a matched folder covers what
    is inside it."""

    def __init__(self, text):
        self.rules = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:].strip() if negate else line
            pattern = pattern.strip("/")
            self.rules.append((negate, pattern))

    @staticmethod
    def _match(pattern, path):
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            else:
                char = pattern[i]
                regex += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
                i += 1
        return re.fullmatch(regex, path) is not None

    def excluded(self, path):
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negate, pattern in self.rules:
            if any(self._match(pattern, prefix) for prefix in prefixes):
                result = not negate
        return result


def glob_files(root, pattern):
    return [str(p.relative_to(root)) for p in pathlib.Path(root).glob(pattern) if p.is_file()]

