"""Helper of scripts/container-test.sh (read that first): what it needs from infra/Dockerfile and
compose.yaml, and the distroless-like runtime base. Standard library only.

  dockerfile-bases DOCKERFILE TARGET   the build args naming external base images, one per line:
                                       `runtime ARG` (the TARGET stage's) or `builder ARG`
  recipe                               what the cached base images are made from (cache key)
  rootfs BOOTSTRAP_DIR OUT_TAR         the runtime base: a few packages of a debootstrapped tree
  plan COMPOSE_JSON OUT_JSON ...       the `podman run` arguments of each service compose.yaml
                                       runs, from `docker compose config --format json`
"""

import argparse
import json
import os
import pathlib
import io
import re
import sys
import tarfile


def die(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


# -- infra/Dockerfile -----------------------------------------------------------------------------

def dockerfile_bases(path, target):
    """Which global ARG each external base image comes from. Every external image must be such an
    ARG (the test passes stand-ins for them; nothing can be pulled), and no COPY --from may name
    an image rather than a stage."""
    text = re.sub(r"\\\n", " ", pathlib.Path(path).read_text())
    global_args, stages = {}, []  # stages: (name, base_arg or None, parent stage or None)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word = line.split(None, 1)[0].upper()
        if word == "ARG" and not stages:
            name = line.split(None, 1)[1].split("=", 1)[0].strip()
            global_args[name] = True
        elif word == "FROM":
            match = re.match(r"FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", line, re.I)
            if not match:
                die(f"{path}: cannot read {line!r}")
            image, name = match.group(1), match.group(2)
            known = {s[0] for s in stages}
            ref = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", image)
            if image in known:
                stages.append((name, None, image))
            elif ref and ref.group(1) in global_args:
                stages.append((name, ref.group(1), None))
            else:
                die(f"{path}: stage {name or '?'} starts FROM {image}, which is neither a stage nor a "
                    "build arg: the container test cannot stand in for it (no image can be pulled)")
        elif word == "COPY":
            source = re.search(r"--from=(\S+)", line)
            if source and source.group(1) not in {s[0] for s in stages}:
                die(f"{path}: {line!r} copies from an image, not a stage: nothing can be pulled in the test")
    by_name = {s[0]: s for s in stages if s[0]}
    if target not in by_name:
        die(f"{path}: no stage {target}")

    def root_arg(stage):
        while stage[1] is None:
            stage = by_name[stage[2]]
        return stage[1]

    runtime = root_arg(by_name[target])
    out = [f"runtime {runtime}"]
    out += [f"builder {arg}" for arg in sorted({s[1] for s in stages if s[1]} - {runtime})]
    print("\n".join(out))


# -- the runtime base ------------------------------------------------------------------------------

# gcr.io/distroless/cc-debian12 is these Debian packages (base-debian12: libc6, libssl3, tzdata,
# netbase, the CA bundle; cc adds libgcc-s1 and libstdc++6; libgomp1 is left out, nothing here
# uses OpenMP), /etc/passwd and /etc/group with root, nobody and nonroot (65532), /tmp and the
# nonroot user's home. No shell, no package manager, no coreutils.
RUNTIME_PACKAGES = ["libc6", "libgcc-s1", "libstdc++6", "libssl3", "tzdata", "netbase"]
RUNTIME_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                  "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    "etc/group": "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                         "networks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n",
}
SKIPPED = re.compile(r"^usr/share/(doc|man|lintian|locale|bug|info)(/|$)")


def rootfs(bootstrap, out):
    root = pathlib.Path(bootstrap).resolve()
    info = root / "var/lib/dpkg/info"
    members = set()
    for package in RUNTIME_PACKAGES:
        lists = sorted(info.glob(f"{package}.list")) + sorted(info.glob(f"{package}:*.list"))
        if not lists:
            die(f"{bootstrap}: package {package} is not installed")
        for line in lists[0].read_text().splitlines():
            name = line.strip().lstrip("/")
            if not name or name == "." or SKIPPED.match(name):
                continue
            # Through the merged-/usr links (lib -> usr/lib): store each file once, where it is.
            parent = os.path.relpath(os.path.realpath(root / os.path.dirname(name)), root)
            path = os.path.normpath(os.path.join(parent, os.path.basename(name)))
            if path.startswith("..") or not os.path.lexists(root / path):
                continue
            members.add(path)
    members.add("etc/ssl/certs/ca-certificates.crt")
    members.add("usr/lib/os-release")
    for path in list(members):
        parts = pathlib.PurePosixPath(path).parts
        members.update(str(pathlib.PurePosixPath(*parts[:i])) for i in range(1, len(parts)))

    def owned_by_root(info):
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        # The merged-/usr links the dynamic loader is found through (/lib64/ld-linux-x86-64.so.2);
        # /bin and /sbin would point at nothing.
        for link in ("lib", "lib64"):
            if (root / link).is_symlink():
                tar.add(root / link, arcname=link, filter=owned_by_root)
        for path in sorted(members):
            if path in ("bin", "lib", "lib64", "sbin"):
                continue
            tar.add(root / path, arcname=path, recursive=False, filter=owned_by_root)
        for path, text in RUNTIME_FILES.items():
            data = text.encode()
            info = owned_by_root(tarfile.TarInfo(path))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        link = owned_by_root(tarfile.TarInfo("etc/os-release"))
        link.type, link.linkname = tarfile.SYMTYPE, "../usr/lib/os-release"
        tar.addfile(link)
        for path, mode, uid in (("tmp", 0o1777, 0), ("root", 0o700, 0), ("home", 0o755, 0),
                                ("home/nonroot", 0o700, 65532)):
            info = owned_by_root(tarfile.TarInfo(path))
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
            info.uname = info.gname = "root" if uid == 0 else "nonroot"
            tar.addfile(info)
    # What must not be in it.
    with tarfile.open(out) as tar:
        names = tar.getnames()
    shells = [n for n in names if os.path.basename(n) in ("sh", "bash", "dash", "busybox")]
    if shells:
        die(f"the runtime base has a shell: {shells}")


def recipe():
    import inspect
    print(json.dumps({"packages": RUNTIME_PACKAGES, "files": RUNTIME_FILES,
                      "skipped": SKIPPED.pattern, "code": inspect.getsource(rootfs)}, sort_keys=True))


# -- compose.yaml ------------------------------------------------------------------------------------

# What of a service this test turns into `podman run` arguments; anything else fails the test
# rather than being silently left out.
TRANSLATED = {"build", "image", "command", "entrypoint", "environment", "ports", "read_only",
              "cap_drop", "cap_add", "security_opt", "init", "restart", "healthcheck", "depends_on",
              "networks", "network_mode", "volumes", "user", "working_dir", "tmpfs"}


def seconds(duration, default):
    if duration is None:
        return default
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def unescaped(value):
    """`docker compose config` prints a literal $ as $$ (its output is compose input again); the
    container gets one."""
    if isinstance(value, list):
        return [unescaped(v) for v in value]
    return value.replace("$$", "$") if isinstance(value, str) else value


def plan(args):
    config = json.loads(pathlib.Path(args.compose_json).read_text())
    services = config["services"]
    databases = dict(item.split("=", 1) for item in args.database)  # service -> postgres | mongo
    not_run = set(databases) | set(args.not_run)
    stand_in_images = dict(item.split("=", 1) for item in args.stand_in_image)
    volumes_dir = pathlib.Path(args.volumes_dir)
    rewrites, run = [], []

    for name in services:
        if name not in not_run and "build" not in services[name] and services[name].get("image") not in stand_in_images:
            die(f"compose.yaml service {name} runs {services[name].get('image')}: neither the platform "
                "image nor one the container test stands in for (scripts/container-test.sh)")

    def masked(value):
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", value)

    def rewrite(service, key, value):
        """Compose's service names become 127.0.0.1 (--network host); URLs of the databases point
        at the test's PostgreSQL cluster and MongoDB server instead."""
        new = value
        for host, kind in databases.items():
            if kind == "postgres":
                new = re.sub(rf"^(postgres(?:ql)?://[^/]*@){re.escape(host)}:\d+/",
                             rf"\g<1>127.0.0.1:{args.pg_port}/", new)
            elif kind == "mongo":
                match = re.match(rf"^mongodb://(?:[^/]*@)?{re.escape(host)}:\d+/([^?]*)", new)
                if match:
                    database = match.group(1) + args.mongo_suffix if match.group(1) else ""
                    new = f"mongodb://127.0.0.1:{args.mongo_port}/{database}?directConnection=true"
        for host in services:
            if host not in not_run:
                new = re.sub(rf"(?<=//){re.escape(host)}(?=:\d)", "127.0.0.1", new)
        left = [h for h in services if re.search(rf"(//|@){re.escape(h)}:\d", new)]
        if left:
            die(f"{service}: {key}={masked(value)} names {left[0]}, which the test does not run")
        if new != value:
            rewrites.append(f"{service}: {key} {masked(value)} -> {masked(new)}")
        return new

    # Named volumes are directories of the test's; a service reads what another wrote, as in compose.
    def host_path(volume):
        if volume["type"] == "bind":
            return volume["source"]
        if volume["type"] == "volume":
            path = volumes_dir / volume["source"]
            path.mkdir(parents=True, exist_ok=True)
            return str(path)
        die(f"volume type {volume['type']} is not translated")

    def in_host(service, container_path):
        for volume in services[service].get("volumes") or []:
            target = volume["target"].rstrip("/")
            if container_path == target or container_path.startswith(target + "/"):
                return host_path(volume) + container_path[len(target):]
        return None

    # Dependency order: a service starts once what it depends on is running, healthy or done.
    order, seen = [], set()

    def visit(name, path=()):
        if name in seen or name in not_run:
            return
        if name in path:
            die(f"compose.yaml: depends_on cycle through {name}")
        for dep in services[name].get("depends_on") or {}:
            visit(dep, path + (name,))
        seen.add(name)
        order.append(name)

    for name in services:
        visit(name)

    ports = []
    for name in order:
        service = services[name]
        unknown = set(service) - TRANSLATED
        if unknown:
            die(f"compose.yaml gives {name} {sorted(unknown)}, which scripts/container-test.py does not translate")
        oneshot = service.get("restart") in ("no", "on-failure") or any(
            (other.get("depends_on") or {}).get(name, {}).get("condition") == "service_completed_successfully"
            for other in services.values())
        platform = "build" in service
        image = args.platform_image if platform else stand_in_images[service["image"]]
        argv = ["--name", f"{config['name']}-{name}-1", "--pull=never"]
        network = service.get("network_mode")
        if network not in (None, "none"):
            die(f"{name}: network_mode {network} is not translated")
        argv += ["--network", "none" if network == "none" else "host"]
        if service.get("read_only"):
            # Docker's read_only: nothing writable, not even /tmp (podman would mount tmpfs there).
            argv += ["--read-only", "--read-only-tmpfs=false"]
        for cap in service.get("cap_drop") or []:
            argv += ["--cap-drop", cap]
        for cap in service.get("cap_add") or []:
            argv += ["--cap-add", cap]
        for opt in service.get("security_opt") or []:
            if re.fullmatch(r"no-new-privileges(?:[:=]true)?", opt):
                argv += ["--security-opt", "no-new-privileges"]
            elif not re.fullmatch(r"no-new-privileges[:=]false", opt):
                argv += ["--security-opt", opt.replace(":", "=", 1)]
        if service.get("init"):
            argv.append("--init")
        if service.get("user"):
            argv += ["--user", service["user"]]
        if service.get("working_dir"):
            argv += ["--workdir", service["working_dir"]]
        for path in service.get("tmpfs") or []:
            argv += ["--tmpfs", path]
        argv += ["--restart", service.get("restart") or "no"]
        for volume in service.get("volumes") or []:
            options = ["ro"] if volume.get("read_only") else []
            selinux = (volume.get("bind") or {}).get("selinux")
            options += [selinux] if selinux else []
            argv += ["--volume", ":".join([host_path(volume), volume["target"]] + ([",".join(options)] if options else []))]
        env = {key: rewrite(name, key, unescaped(value or ""))
               for key, value in sorted((service.get("environment") or {}).items())}
        for key, value in env.items():
            argv += ["--env", f"{key}={value}"]
        for port in service.get("ports") or []:
            if str(port.get("published")) != str(port["target"]):
                die(f"{name}: publishes {port['target']} as {port.get('published')}; with --network host "
                    "the container's port is the host's")
            ports.append(int(port["target"]))
        health = service.get("healthcheck")
        deadline = test = None
        if health and not health.get("disable"):
            test = unescaped(health["test"])
            if test[0] not in ("CMD", "CMD-SHELL"):
                die(f"{name}: healthcheck test {test[0]} is not translated")
            interval = seconds(health.get("interval"), 30)
            deadline = seconds(health.get("start_period"), 0) + interval * health.get("retries", 3)
            # The test runs it (podman healthcheck run), as often as it likes: no timer. Podman
            # reads a JSON array without compose's leading CMD (with it, it splits at spaces).
            command = test[1:] if test[0] == "CMD" else test
            argv += ["--health-cmd", json.dumps(command), "--health-interval", "disable",
                     "--health-timeout", health.get("timeout", "30s"),
                     "--health-retries", str(health.get("retries", 3)),
                     "--health-start-period", health.get("start_period", "0s")]
        entrypoint = service.get("entrypoint")
        if entrypoint:
            argv += ["--entrypoint", json.dumps(unescaped(entrypoint))]
        argv.append(image)
        argv += unescaped(service.get("command") or [])
        secret_files = {key[:-len("_FILE")]: in_host(name, value) for key, value in env.items() if key.endswith("_FILE")}
        for key, path in secret_files.items():
            if path is None:
                die(f"{name}: {key}_FILE={env[key + '_FILE']} is not in a volume the service mounts")
        run.append({"service": name, "container": argv[1], "oneshot": oneshot, "platform": platform,
                    "args": argv, "deadline": deadline, "health_test": test, "env": env, "secret_files": secret_files})

    # PostgreSQL's first start, as the postgres image runs it: its entrypoint's wrapper scripts
    # (here env-from-files.sh) and each /docker-entrypoint-initdb.d/ script, with its environment.
    postgres = [n for n, kind in databases.items() if kind == "postgres"]
    init = None
    if postgres:
        name = postgres[0]
        service = services[name]
        entrypoint = service.get("entrypoint") or ["docker-entrypoint.sh"]
        if "docker-entrypoint.sh" not in entrypoint:
            die(f"{name}: entrypoint {entrypoint} does not run the image's docker-entrypoint.sh")
        wrapper = [in_host(name, word) or word for word in unescaped(entrypoint[:entrypoint.index("docker-entrypoint.sh")])]
        env = {}
        for key, value in (service.get("environment") or {}).items():
            value = unescaped(value)
            env[key] = (in_host(name, value) or value) if key.endswith("_FILE") else value
        scripts = sorted(host_path(v) for v in service.get("volumes") or []
                         if v["target"].startswith("/docker-entrypoint-initdb.d/"))
        init = {"service": name, "wrapper": wrapper, "env": env, "scripts": scripts}

    users = next((r for r in run if r["env"].get("ADMIN_EMAIL")), None)
    json.dump({
        "run": run,
        "ports": sorted(ports),
        "postgres_init": init,
        "rewrites": rewrites,
        "not_run": sorted(not_run),
        "admin_email": users and users["env"]["ADMIN_EMAIL"],
        "admin_password_file": users and users["secret_files"].get("ADMIN_PASSWORD"),
        "build": next(services[r["service"]]["build"] for r in run if r["platform"]),
    }, open(args.out_json, "w"), indent=1)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    bases = commands.add_parser("dockerfile-bases")
    bases.add_argument("dockerfile")
    bases.add_argument("target")
    commands.add_parser("recipe")
    fs = commands.add_parser("rootfs")
    fs.add_argument("bootstrap")
    fs.add_argument("out")
    p = commands.add_parser("plan")
    p.add_argument("compose_json")
    p.add_argument("out_json")
    p.add_argument("--platform-image", required=True)
    p.add_argument("--database", action="append", default=[], help="SERVICE=postgres|mongo: not run; its URLs point at the test's")
    p.add_argument("--not-run", action="append", default=[], help="a service the test stands in for otherwise")
    p.add_argument("--stand-in-image", action="append", default=[], help="IMAGE=LOCAL: run with LOCAL instead")
    p.add_argument("--volumes-dir", required=True)
    p.add_argument("--pg-port", required=True)
    p.add_argument("--mongo-port", required=True)
    p.add_argument("--mongo-suffix", default="")
    args = parser.parse_args()
    if args.command == "dockerfile-bases":
        dockerfile_bases(args.dockerfile, args.target)
    elif args.command == "recipe":
        recipe()
    elif args.command == "rootfs":
        rootfs(args.bootstrap, args.out)
    else:
        plan(args)


if __name__ == "__main__":
    main()
