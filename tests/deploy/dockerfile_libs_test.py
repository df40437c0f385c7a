#!/usr/bin/env python3
"""Checks deploy/Dockerfile without building it (no Docker on the project's machines).

For every service binary built here, each shared library `ldd` resolves is mapped to its
Debian package (`dpkg -S`; the project-local libnode in .deps/libnode is Debian's libnode108),
and that package must be installed by the runtime stage's `apt-get install`, directly or as a
dependency of a listed package (dpkg's Depends of what is installed here). Also: builder and
runtime bases are Debian 12, the runtime stage copies all six binaries, runs as a non-root
numeric user, and its entrypoint knows every service.

    DM_SOURCE_DIR=<repo> DM_BINARY_DIR=<build dir> python3 dockerfile_libs_test.py
"""
import os
import re
import shlex
import subprocess
import sys

SERVICES = ["gateway", "ingest", "registry", "flow-orchestrator", "function-runner", "integration-dispatcher"]
SRC = os.environ.get("DM_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BIN = os.environ.get("DM_BINARY_DIR") or os.path.join(SRC, "build")
problems = []


def fail(msg):
    problems.append(msg)


def stages(dockerfile):
    """[(from line, [instructions])] with continuation lines joined and comments dropped."""
    out, cur = [], None
    logical = ""
    for raw in open(dockerfile, encoding="utf-8").read().split("\n"):
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        if re.match(r"(?i)^FROM\s", logical):
            cur = (logical, [])
            out.append(cur)
        elif cur is not None:
            cur[1].append(logical)
        logical = ""
    return out


def apt_packages(instructions):
    pkgs = set()
    for ins in instructions:
        if not ins.upper().startswith("RUN "):
            continue
        for cmd in re.split(r"&&|;|\|\|", ins[4:]):
            words = shlex.split(cmd)
            if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                after = words[words.index("install") + 1:]
                pkgs.update(w for w in after if not w.startswith("-"))
    return pkgs


def dpkg_owners(paths):
    """{path: package} for the given library paths, with one dpkg -S call (it is slow)."""
    candidates = {}
    for path in paths:
        names = [path, os.path.realpath(path)]
        for p in list(names):  # merged /usr: a library may be packaged under either name
            if p.startswith("/lib"):
                names.append("/usr" + p)
            elif p.startswith("/usr/lib"):
                names.append(p[4:])
        candidates[path] = names
    every = sorted({n for names in candidates.values() for n in names})
    found = {}
    if every:
        out = subprocess.run(["dpkg", "-S"] + every, capture_output=True, text=True).stdout
        for line in out.splitlines():
            pkg, _, where = line.partition(": ")
            for w in where.split(", "):
                found[w.strip()] = pkg.split(":")[0].split(",")[0].strip()
    return {path: next((found[n] for n in names if n in found), None) for path, names in candidates.items()}


def depends_closure(roots):
    """Installed packages reachable from roots through Depends/Pre-Depends (alternatives too)."""
    seen, layer = set(), set(roots)
    while layer:
        seen |= layer
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}, ${Provides}\\n"] + sorted(layer),
                           capture_output=True, text=True)
        nxt = set()
        for alt in r.stdout.replace("|", ",").replace("\n", ",").split(","):
            name = alt.strip().split(" ")[0].split(":")[0]
            if name and name not in seen:
                nxt.add(name)
        layer = nxt
    return seen


def main():
    dockerfile = os.path.join(SRC, "deploy", "Dockerfile")
    st = stages(dockerfile)
    if len(st) < 2:
        fail("expected a multi-stage Dockerfile (builder and runtime)")
        return
    if not re.match(r"(?i)^FROM\s+debian:bookworm(\s|$)", st[0][0]):
        fail(f"builder stage must start FROM debian:bookworm, got: {st[0][0]}")
    runtime_from, runtime = st[-1]
    if not re.match(r"(?i)^FROM\s+debian:bookworm-slim\b", runtime_from):
        fail(f"runtime stage must start FROM debian:bookworm-slim, got: {runtime_from}")
    listed = apt_packages(runtime)
    if not listed:
        fail("runtime stage installs no packages")
    if apt_packages(st[0][1]) & {"libnode-dev", "g++"} != {"libnode-dev", "g++"}:
        fail("builder stage must install g++ and libnode-dev")
    if "libnode-dev" in listed or "g++" in listed:
        fail("runtime stage installs build tools")

    copied = " ".join(i for i in runtime if i.upper().startswith("COPY "))
    for s in SERVICES:
        if not re.search(rf"/dm-{re.escape(s)}(\s|$)", copied):
            fail(f"runtime stage does not COPY dm-{s}")
    # The console the gateway serves at /: built in the builder, copied and named in the runtime.
    if not any("build.mjs" in i for i in st[0][1] if i.upper().startswith("RUN ")):
        fail("builder stage does not build the console (web/build.mjs)")
    console_env = [i for i in runtime if i.upper().startswith("ENV ") and "GATEWAY_CONSOLE_DIR=" in i]
    if not console_env:
        fail("runtime stage does not set GATEWAY_CONSOLE_DIR")
    else:
        folder = re.search(r"GATEWAY_CONSOLE_DIR=(\S+)", console_env[-1]).group(1)
        if not re.search(rf"\s{re.escape(folder)}/?(\s|$)", copied):
            fail(f"runtime stage does not COPY the console to {folder}")
    ignored = os.path.join(SRC, ".dockerignore")
    if not os.path.isfile(ignored) or "web/node_modules" not in open(ignored, encoding="utf-8").read():
        fail(".dockerignore must keep web/node_modules (this machine's packages) out of the build")
    users = [i.split()[1] for i in runtime if i.upper().startswith("USER ")]
    if not users or not re.match(r"^[1-9][0-9]*(:[1-9][0-9]*)?$", users[-1]):
        fail(f"runtime stage must end as a numeric non-root USER (got {users})")
    entrypoints = [i for i in runtime if i.upper().startswith("ENTRYPOINT ")]
    if not entrypoints:
        fail("runtime stage has no ENTRYPOINT")
    elif "tini" in entrypoints[-1] and "tini" not in listed:
        fail("the ENTRYPOINT runs tini, which the runtime stage does not install")
    # Programs the compose health checks run inside the service containers.
    compose = open(os.path.join(SRC, "deploy", "docker-compose.yml"), encoding="utf-8").read()
    if '"curl"' in compose and "curl" not in listed:
        fail("docker-compose.yml health checks run curl, which the runtime stage does not install")
    entry = open(os.path.join(SRC, "deploy", "docker", "entrypoint.sh"), encoding="utf-8").read()
    for s in SERVICES:
        if s not in entry:
            fail(f"deploy/docker/entrypoint.sh does not know {s}")

    # Every package name must exist in Debian 12 (checked when this machine has package lists).
    everything = listed | apt_packages(st[0][1])
    if subprocess.run(["apt-cache", "show", "--no-all-versions", "libc6"], capture_output=True).returncode == 0:
        out = subprocess.run(["apt-cache", "show", "--no-all-versions"] + sorted(everything),
                             capture_output=True, text=True).stdout
        known = set(re.findall(r"^Package: (\S+)", out, re.M))
        for p in sorted(everything - known):
            fail(f"package {p} (deploy/Dockerfile) is unknown to apt")
    else:
        print("note: no apt package lists here; package names not checked against Debian")

    closure = depends_closure(listed)
    links = []  # (service, library, resolved path)
    for s in SERVICES:
        binary = os.path.join(BIN, "services", s, f"dm-{s}")
        if not os.path.isfile(binary):
            fail(f"{binary} not built")
            continue
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)\s*=>\s*(\S+)", line)
            if not m:
                continue
            lib, path = m.groups()
            if re.match(r"lib(a|ub|l|t|hwa)san\.", lib):
                continue  # a sanitizer build (tools/test --sanitize): never part of the image
            if path == "not":
                fail(f"dm-{s}: {lib} not found by ldd")
            else:
                links.append((s, lib, path))
    owners = dpkg_owners({p for _, _, p in links if "/.deps/libnode/" not in p})
    for s, lib, path in links:
        # The project-local libnode is unpacked from Debian's libnode108 by tools/setup.sh.
        pkg = "libnode108" if "/.deps/libnode/" in path else owners.get(path)
        if pkg is None:
            fail(f"dm-{s}: {path} belongs to no Debian package")
        elif pkg not in listed and pkg not in closure:
            fail(f"dm-{s}: {lib} ({path}) comes from {pkg}, which the runtime stage does not install")
    checked = len(links)
    print(f"runtime stage installs {len(listed)} packages ({len(closure)} with dependencies); "
          f"{checked} library links of {len(SERVICES)} binaries checked")


main()
if problems:
    print(f"{len(problems)} problem(s):", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(1)
print("dockerfile_libs_test: all checks passed")
