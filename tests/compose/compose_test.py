#!/usr/bin/env python3
"""Checks compose/ (the Docker Compose facility) without Docker: it parses the files and holds them
against each other, against the C++ sources and against the executables CMake built.

  python3 tests/compose/compose_test.py --repo REPO --bin REPO/build/bin

Every failure is printed as "FAIL <file>: <item>: <what>"; the exit status is 1 if there is any.
SPOTLINE_COMPOSE_ALLOW_MISSING=spotline-bridge accepts that one executable being absent from --bin.
"""

import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

try:
    import yaml
except ImportError:
    print("FAIL tests/compose/compose_test.py: python3-yaml is not installed (scripts/install-deps.sh installs it)")
    sys.exit(1)

# Compose service name -> the executable it must run.
SPOTLINE_SERVICES = {
    "bus": "spotline-bus",
    "plan": "spotline-plan",
    "rv": "spotline-rv",
    "dose": "spotline-dose",
    "qa": "spotline-qa",
    "delivery": "spotline-delivery",
    "bridge": "spotline-bridge",
}
# endpoints.json key -> the service that binds it (services/bus/src/endpoints.cpp; everyone else connects).
BINDERS = {
    "bus_xsub": "bus",
    "bus_xpub": "bus",
    "plan_command": "plan",
    "rv_command": "rv",
    "rv_stream": "rv",
    "rv_query": "rv",
    "delivery_command": "delivery",
}
TOPICS = ["spotline.plans", "spotline.fractions", "spotline.spots", "spotline.dose", "spotline.qa",
          "spotline.interlocks"]
ALLOWED_MISSING = {"spotline-bridge"}  # only while the bridge is being written
# Series Prometheus makes itself; a dashboard may use them although no Spotline source names them.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                   "unless", "offset", "inf", "nan", "Inf", "NaN"}
KAFKA_SETTINGS = {  # broker environment -> required value
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
    "KAFKA_MIN_INSYNC_REPLICAS": "2",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2",
}
ADDRESS = re.compile(r"^tcp://([^:/]+):(\d+)$")
ANY_HOST = {"0.0.0.0", "*"}


class Report:
    def __init__(self, repo):
        self.repo = repo
        self.failures = []
        self.checks = 0

    def where(self, path):
        try:
            return str(Path(path).resolve().relative_to(self.repo))
        except ValueError:
            return str(path)

    def check(self, ok, path, item, message):
        self.checks += 1
        if not ok:
            self.failures.append(f"FAIL {self.where(path)}: {item}: {message}")
        return ok


# --- compose file helpers ---------------------------------------------------------------------------

def argv_of(svc):
    """entrypoint + command as a list of strings."""
    out = []
    for key in ("entrypoint", "command"):
        v = svc.get(key)
        if v is None:
            continue
        out += shlex.split(v) if isinstance(v, str) else [str(x) for x in v]
    return out


def executable_of(svc):
    argv = argv_of(svc)
    return PurePosixPath(argv[0]).name if argv else None


def flag(argv, name):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def env_of(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        out = {}
        for item in e:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in e.items()}


def mounts_of(svc):
    """[{type, source, target, read_only}] from short or long volume syntax."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            src = v.get("source")
            kind = v.get("type") or ("bind" if src and src[0] in "./~" else "volume")
            out.append({"type": kind, "source": src, "target": v.get("target"),
                        "read_only": bool(v.get("read_only")), "spec": str(v)})
            continue
        parts = str(v).split(":")
        if len(parts) == 1:
            out.append({"type": "volume", "source": None, "target": parts[0], "read_only": False, "spec": v})
            continue
        src, target = parts[0], parts[1]
        opts = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if src[0] in "./~" else "volume"
        out.append({"type": kind, "source": src, "target": target, "read_only": "ro" in opts, "spec": v})
    return out


def mount_at(svc, target):
    for m in mounts_of(svc):
        if m["target"] and PurePosixPath(m["target"]) == PurePosixPath(target):
            return m
    return None


def host_path(compose_dir, svc, container_path):
    """The host path behind a container path, through the service's bind mounts (None if none)."""
    best = None
    for m in mounts_of(svc):
        if m["type"] != "bind" or not m["target"]:
            continue
        t = PurePosixPath(m["target"])
        p = PurePosixPath(container_path)
        if p == t or t in p.parents:
            if best is None or len(str(t)) > len(str(best[0])):
                best = (t, m)
    if best is None:
        return None
    t, m = best
    rest = PurePosixPath(container_path).relative_to(t)
    return (compose_dir / os.path.expanduser(m["source"])).resolve() / rest


def depends_of(svc):
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (v or {}).get("condition", "service_started") for name, v in d.items()}


def parse_address(addr):
    m = ADDRESS.match(addr or "")
    return (m.group(1), int(m.group(2))) if m else None


def text_of(command_argv):
    return " ".join(command_argv)


# --- sources ----------------------------------------------------------------------------------------

def source_text(paths):
    chunks = []
    for root in paths:
        if root.is_file():
            chunks.append(root.read_text(errors="replace"))
            continue
        for p in sorted(root.rglob("*")):
            if p.suffix in (".cpp", ".h", ".hpp", ".cc") and p.is_file():
                chunks.append(p.read_text(errors="replace"))
    return "\n".join(chunks)


def promql_metric_names(expr):
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = []
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        tok = m.group(0)
        before = s[m.start() - 1] if m.start() > 0 else ""
        if before and (before.isdigit() or before in "$."):
            continue  # 1e3, $variable, 0.5
        if s[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if tok in PROMQL_KEYWORDS:
            continue
        names.append(tok)
    return names


def dockerignore_patterns(context):
    f = context / ".dockerignore"
    if not f.is_file():
        return []
    pats = []
    for line in f.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pats.append(line)
    return pats


def ignored(rel, patterns):
    """Docker's rule, simplified: the last matching pattern wins; a pattern also covers what is below it."""
    rel = rel.strip("/")
    candidates = [rel] + [str(p) for p in PurePosixPath(rel).parents if str(p) != "."]
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        p = p[3:] if p.startswith("**/") else p
        if any(fnmatch.fnmatch(c, p) or fnmatch.fnmatch(PurePosixPath(c).name, p) and "/" not in p
               for c in candidates):
            result = not neg
    return result


def dockerfile_instructions(path):
    lines, cur = [], ""
    for raw in path.read_text().splitlines():
        s = raw.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        lines.append(cur)
        cur = ""
    if cur:
        lines.append(cur)
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


# --- the checks -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="the repository root")
    ap.add_argument("--bin", required=True, help="the directory CMake builds the executables into")
    args = ap.parse_args()
    repo = Path(args.repo).resolve()
    bindir = Path(args.bin).resolve()
    r = Report(repo)
    compose_dir = repo / "compose"
    compose_file = compose_dir / "compose.yaml"

    allow = {a.strip() for a in os.environ.get("SPOTLINE_COMPOSE_ALLOW_MISSING", "").split(",") if a.strip()}
    r.check(allow <= ALLOWED_MISSING, Path(__file__), "SPOTLINE_COMPOSE_ALLOW_MISSING",
            f"may name only {sorted(ALLOWED_MISSING)}, not {sorted(allow - ALLOWED_MISSING)}")
    allow &= ALLOWED_MISSING

    if not r.check(compose_file.is_file(), compose_file, "file", "missing"):
        return finish(r, {})
    try:
        doc = yaml.safe_load(compose_file.read_text())
    except yaml.YAMLError as e:
        r.check(False, compose_file, "YAML", str(e))
        return finish(r, {})
    services = doc.get("services") or {}
    if not r.check(isinstance(services, dict) and services, compose_file, "services", "none defined"):
        return finish(r, {})
    volumes_declared = set((doc.get("volumes") or {}).keys())

    def item(name, what=""):
        return f"services.{name}{'.' + what if what else ''}"

    # Every service: bind mounts exist, named volumes are declared, depends_on names services.
    for name, svc in services.items():
        for m in mounts_of(svc):
            if m["type"] == "bind":
                src = (compose_dir / os.path.expanduser(m["source"])).resolve()
                r.check(src.exists(), compose_file, item(name, "volumes"),
                        f"bind mount source {m['source']} does not exist ({r.where(src)})")
            elif m["source"]:
                r.check(m["source"] in volumes_declared, compose_file, item(name, "volumes"),
                        f"named volume {m['source']} is not declared under top-level volumes")
        for dep in depends_of(svc):
            r.check(dep in services, compose_file, item(name, "depends_on"), f"names no service {dep}")
    check_no_cycle(r, compose_file, services)

    # --- Kafka ------------------------------------------------------------------------------------
    kafka = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka")}
    brokers = {n: s for n, s in kafka.items() if "KAFKA_PROCESS_ROLES" in env_of(s)}
    broker_client_port = check_kafka(r, compose_file, brokers, item)
    inits = {n: s for n, s in kafka.items() if n not in brokers}
    r.check(len(inits) == 1, compose_file, "services", f"expected one kafka-init service (apache/kafka without "
            f"KAFKA_PROCESS_ROLES), found {sorted(inits)}")
    for name, svc in inits.items():
        text = text_of(argv_of(svc))
        r.check("/opt/kafka/bin/kafka-topics.sh" in text, compose_file, item(name, "command"),
                "does not run /opt/kafka/bin/kafka-topics.sh")
        for t in TOPICS:
            r.check(re.search(r"(?<![\w.-])" + re.escape(t) + r"(?![\w.-])", text) is not None,
                    compose_file, item(name, "command"), f"does not create topic {t}")
        r.check(re.search(r"--replication-factor[ =]3\b", text) is not None, compose_file, item(name, "command"),
                "topics are not created with --replication-factor 3")
        r.check("min.insync.replicas=2" in text, compose_file, item(name, "command"),
                "topics are not created with min.insync.replicas=2")
        r.check(re.search(r"--partitions[ =][1-9]", text) is not None, compose_file, item(name, "command"),
                "topics are created without --partitions")
        r.check("--if-not-exists" in text, compose_file, item(name, "command"),
                "kafka-topics.sh --create without --if-not-exists fails on the second `up`")
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        for host in re.findall(r"([A-Za-z0-9_.-]+):\d+", flag(words, "--bootstrap-server") or ""):
            r.check(host in brokers, compose_file, item(name, "command"), f"--bootstrap-server names {host}, "
                    "not a broker service")
        for b in brokers:
            r.check(depends_of(svc).get(b) == "service_healthy", compose_file, item(name, "depends_on"),
                    f"must wait for {b} (condition: service_healthy)")

    # --- Prometheus and Grafana ---------------------------------------------------------------------
    proms = [n for n, s in services.items() if str(s.get("image", "")).startswith("prom/prometheus")]
    grafanas = [n for n, s in services.items() if str(s.get("image", "")).startswith("grafana/grafana")]
    r.check(len(proms) == 1, compose_file, "services", f"expected one Prometheus (prom/prometheus), found {proms}")
    r.check(len(grafanas) == 1, compose_file, "services", f"expected one Grafana (grafana/grafana), found {grafanas}")

    # --- Spotline services --------------------------------------------------------------------------
    images = set()
    for name, exe in SPOTLINE_SERVICES.items():
        if not r.check(name in services, compose_file, item(name), f"missing (runs {exe})"):
            continue
        r.check(executable_of(services[name]) == exe, compose_file, item(name, "command"),
                f"runs {executable_of(services[name])}, expected {exe}")
    spotline_names = [n for n, s in services.items() if (executable_of(s) or "").startswith("spotline")]
    for name in spotline_names:
        svc = services[name]
        exe = executable_of(svc)
        path = bindir / exe
        if not (exe in allow and not path.exists()):
            r.check(path.is_file() and os.access(path, os.X_OK), compose_file, item(name, "command"),
                    f"{exe} is not an executable in {bindir} (does CMake build it?)")
        images.add(str(svc.get("image")))
        check_build(r, compose_file, repo, compose_dir, name, svc, item)
        check_flags(r, compose_file, repo, name, exe, argv_of(svc), item)
    r.check(len(images) == 1, compose_file, "services", f"the Spotline services run different images: {sorted(images)}")

    # Endpoints: the shared file, and what each service reads.
    endpoints_file = compose_dir / "config" / "endpoints.json"
    shared = load_json(r, endpoints_file)
    if shared is not None:
        check_shared_endpoints(r, endpoints_file, shared, services)
    metrics_port = {}
    for name in spotline_names:
        svc = services[name]
        argv = argv_of(svc)
        path = flag(argv, "--endpoints")
        ep = None
        if path is not None:
            m = mount_at(svc, path)
            if r.check(m is not None and m["type"] == "bind", compose_file, item(name, "volumes"),
                       f"--endpoints {path} is not bind-mounted from compose/config"):
                r.check(m["read_only"], compose_file, item(name, "volumes"), f"{path} should be mounted :ro")
                src = (compose_dir / m["source"]).resolve()
                ep = load_json(r, src) if src.is_file() else None
                if ep is not None and shared is not None:
                    check_service_endpoints(r, src, name, ep, shared)
            if name != "bus":
                r.check("bus" in depends_of(svc), compose_file, item(name, "depends_on"),
                        "must start after bus (depends_on: bus)")
        elif name in SPOTLINE_SERVICES and name != "bridge":
            r.check(False, compose_file, item(name, "command"), "has no --endpoints FILE")
        if name not in SPOTLINE_SERVICES:
            continue  # the console: no metrics, no healthcheck
        port = flag(argv, "--metrics-port")
        if port is None and ep is not None:
            port = (ep.get("metrics_ports") or {}).get(name)
        port = int(port) if port is not None and str(port).isdigit() else None
        metrics_port[name] = port
        r.check(port not in (None, 0), compose_file, item(name, "command"),
                "no fixed metrics port (--metrics-port, or metrics_ports in its endpoints file): Prometheus "
                "could not find it")
        r.check(flag(argv, "--metrics-address") in ("0.0.0.0", "::"), compose_file, item(name, "command"),
                "needs --metrics-address 0.0.0.0 (the default 127.0.0.1 is unreachable from Prometheus)")
        check_healthcheck(r, compose_file, name, svc, port, ep, item)

    check_volumes(r, compose_file, services, item)
    if "bridge" in services:
        bridge = services["bridge"]
        argv = argv_of(bridge)
        deps = depends_of(bridge)
        r.check("rv" in deps, compose_file, item("bridge", "depends_on"), "must start after rv")
        r.check(any(deps.get(n) == "service_completed_successfully" for n in inits), compose_file,
                item("bridge", "depends_on"), "must wait for kafka-init (condition: service_completed_successfully)")
        brokers_arg = flag(argv, "--brokers")
        if r.check(brokers_arg, compose_file, item("bridge", "command"), "has no --brokers"):
            for hp in brokers_arg.split(","):
                host, _, port = hp.strip().rpartition(":")
                ok = host in brokers and port.isdigit() and int(port) == broker_client_port.get(host)
                r.check(ok, compose_file, item("bridge", "command"),
                        f"--brokers {hp}: not a broker service with its in-network listener "
                        f"({', '.join(f'{b}:{p}' for b, p in sorted(broker_client_port.items()))})")

    # --- Dockerfile ---------------------------------------------------------------------------------
    # (check_build above resolves each service's build; the Dockerfile itself is checked once here.)
    dockerfile = compose_dir / "Dockerfile"
    if r.check(dockerfile.is_file(), dockerfile, "file", "missing"):
        check_dockerfile(r, dockerfile, repo)

    # --- Prometheus configuration -------------------------------------------------------------------
    prom_port = 9090
    if proms:
        prom = services[proms[0]]
        listen = flag(argv_of(prom), "--web.listen-address")
        if listen:
            prom_port = int(listen.rpartition(":")[2])
        cfg_path = flag(argv_of(prom), "--config.file") or "/etc/prometheus/prometheus.yml"
        host_cfg = host_path(compose_dir, prom, cfg_path)
        if r.check(host_cfg is not None and host_cfg.is_file(), compose_file, item(proms[0], "volumes"),
                   f"{cfg_path} is not bind-mounted from a file in compose/"):
            check_prometheus(r, host_cfg, services, metrics_port, proms[0], prom_port)

    # --- Grafana provisioning and dashboards --------------------------------------------------------
    metrics_used, panel_count = set(), 0
    if grafanas and proms:
        metrics_used, panel_count = check_grafana(r, repo, compose_dir, compose_file, services, grafanas[0],
                                                  proms[0], prom_port, item)

    summary = (f"{len(services)} services ({len(spotline_names)} Spotline, {len(brokers)} Kafka brokers), "
               f"{len(metrics_used)} metric names in {panel_count} dashboard panels")
    return finish(r, {"summary": summary, "allowed": sorted(a for a in allow if not (bindir / a).exists())})


def finish(r, info):
    for f in r.failures:
        print(f)
    if r.failures:
        print(f"compose_file: {len(r.failures)} of {r.checks} checks failed")
        return 1
    extra = f"; absent but allowed: {', '.join(info['allowed'])}" if info.get("allowed") else ""
    print(f"compose_file: OK, {r.checks} checks: {info.get('summary', '')}{extra}")
    return 0


def load_json(r, path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        r.check(False, path, "file", "missing")
    except json.JSONDecodeError as e:
        r.check(False, path, "JSON", str(e))
    return None


def check_no_cycle(r, compose_file, services):
    state = {}

    def visit(n, stack):
        if state.get(n) == 1:
            r.check(False, compose_file, "depends_on", "cycle: " + " -> ".join(stack + [n]))
            return
        if state.get(n) == 2 or n not in services:
            return
        state[n] = 1
        for d in depends_of(services[n]):
            visit(d, stack + [n])
        state[n] = 2

    for n in services:
        visit(n, [])


def check_kafka(r, compose_file, brokers, item):
    """Three KRaft broker+controller nodes agreeing on one quorum; returns {service: client port}."""
    r.check(len(brokers) == 3, compose_file, "services",
            f"expected exactly three Kafka brokers (apache/kafka with KAFKA_PROCESS_ROLES), found {sorted(brokers)}")
    ids, voters, clusters, client_port, data_volumes = {}, {}, {}, {}, {}
    for name, svc in brokers.items():
        env = env_of(svc)
        roles = {x.strip() for x in env.get("KAFKA_PROCESS_ROLES", "").split(",")}
        r.check(roles == {"broker", "controller"}, compose_file, item(name, "environment"),
                f"KAFKA_PROCESS_ROLES is {env.get('KAFKA_PROCESS_ROLES')!r}, expected broker,controller")
        nid = env.get("KAFKA_NODE_ID", "")
        if r.check(nid.isdigit(), compose_file, item(name, "environment"), "KAFKA_NODE_ID missing or not a number"):
            ids[name] = int(nid)
        voters[name] = env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
        clusters[name] = env.get("CLUSTER_ID", "")
        r.check(clusters[name] != "", compose_file, item(name, "environment"), "CLUSTER_ID missing")
        for k, want in KAFKA_SETTINGS.items():
            r.check(env.get(k, "").lower() == want, compose_file, item(name, "environment"),
                    f"{k} is {env.get(k)!r}, expected {want}")
        listeners = dict(tuple(x.split("://", 1)) for x in env.get("KAFKA_LISTENERS", "").split(",") if "://" in x)
        controller_names = [x.strip() for x in env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "").split(",") if x.strip()]
        r.check(controller_names and all(c in listeners for c in controller_names), compose_file,
                item(name, "environment"), "KAFKA_CONTROLLER_LISTENER_NAMES names no listener in KAFKA_LISTENERS")
        inter = env.get("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT")
        advertised = dict(tuple(x.split("://", 1)) for x in env.get("KAFKA_ADVERTISED_LISTENERS", "").split(",")
                          if "://" in x)
        adv = advertised.get(inter, "")
        host, _, port = adv.rpartition(":")
        if r.check(host == svc.get("hostname", name) == name and port.isdigit(), compose_file,
                   item(name, "environment"),
                   f"KAFKA_ADVERTISED_LISTENERS {inter}://{adv}: the host must be the service name {name}"):
            client_port[name] = int(port)
        if controller_names:
            cport = listeners.get(controller_names[0], "").rpartition(":")[2]
            for v in voters[name].split(","):
                vid, _, hp = v.partition("@")
                if hp.rpartition(":")[0] == name:
                    r.check(vid == nid and hp.rpartition(":")[2] == cport, compose_file, item(name, "environment"),
                            f"voter {v} does not match this node (id {nid}, controller port {cport})")
        logdir = env.get("KAFKA_LOG_DIRS", "/var/lib/kafka/data")
        m = mount_at(svc, logdir)
        if r.check(m is not None and m["type"] == "volume" and m["source"], compose_file, item(name, "volumes"),
                   f"its data ({logdir}) is not on a named volume"):
            data_volumes.setdefault(m["source"], []).append(name)
    r.check(len(set(ids.values())) == len(ids), compose_file, "services", f"Kafka node ids are not distinct: {ids}")
    r.check(len(set(voters.values())) == 1, compose_file, "services",
            f"KAFKA_CONTROLLER_QUORUM_VOTERS differ between brokers: {voters}")
    r.check(len(set(clusters.values())) == 1, compose_file, "services",
            f"CLUSTER_ID differs between brokers: {clusters}")
    if voters:
        quorum = {}
        for v in next(iter(voters.values())).split(","):
            vid, _, hp = v.partition("@")
            quorum[hp.rpartition(":")[0]] = vid
        r.check(set(quorum) == set(brokers), compose_file, "KAFKA_CONTROLLER_QUORUM_VOTERS",
                f"names {sorted(quorum)}, expected all of {sorted(brokers)}")
        for name, nid in ids.items():
            r.check(quorum.get(name) == str(nid), compose_file, "KAFKA_CONTROLLER_QUORUM_VOTERS",
                    f"{name} is node {nid} but the voters say {quorum.get(name)}")
    for vol, users in data_volumes.items():
        r.check(len(users) == 1, compose_file, "volumes", f"brokers {users} share the data volume {vol}")
    return client_port


def check_build(r, compose_file, repo, compose_dir, name, svc, item):
    b = svc.get("build")
    if not r.check(b is not None, compose_file, item(name, "build"),
                   "no build: the image comes from compose/Dockerfile"):
        return
    context = b if isinstance(b, str) else b.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
    ctx = (compose_dir / context).resolve()
    r.check(ctx == repo, compose_file, item(name, "build.context"), f"{context} is not the repository root")
    r.check((ctx / dockerfile).is_file(), compose_file, item(name, "build.dockerfile"),
            f"{dockerfile} does not exist in the build context {r.where(ctx)}")


def check_flags(r, compose_file, repo, name, exe, argv, item):
    """Every --flag given to a Spotline executable is one its main declares."""
    if exe == "spotline":
        roots = [repo / "services" / "console", repo / "services" / "bridge"]
    elif exe == "spotline-bridge":
        roots = [repo / "services" / "bridge"]
    else:
        roots = [repo / "services" / "mains" / "service_main.cpp"]
    roots = [p for p in roots if p.exists()]
    if not roots:
        return  # the bridge is being written; its executable check above decides
    text = source_text(roots)
    for a in argv[1:]:
        if not a.startswith("--") or a == "--help":
            continue
        f = a.split("=", 1)[0]
        r.check(f'"{f}"' in text or re.search(r'"[^"]*,' + re.escape(f) + r'"', text) is not None,
                compose_file, item(name, "command"),
                f"{exe} declares no option {f} (looked in {', '.join(r.where(p) for p in roots)})")


def check_shared_endpoints(r, path, ep, services):
    seen = {}
    for key, binder in BINDERS.items():
        addr = ep.get(key)
        parsed = parse_address(addr)
        if not r.check(parsed is not None, path, key, f"{addr!r} is not tcp://HOST:PORT"):
            continue
        host, port = parsed
        r.check(host == binder, path, key, f"host {host} should be the compose service that binds it, {binder}")
        r.check(host in services, path, key, f"host {host} is not a compose service")
        if host in services:
            exe = executable_of(services[host])
            r.check(exe == SPOTLINE_SERVICES[binder], path, key,
                    f"service {host} runs {exe}, which does not bind {key} ({SPOTLINE_SERVICES[binder]} does)")
        r.check((host, port) not in seen, path, key, f"{addr} is also {seen.get((host, port))}")
        seen[(host, port)] = key
    mp = ep.get("metrics_ports")
    if r.check(isinstance(mp, dict), path, "metrics_ports", "missing"):
        for svc, port in mp.items():
            r.check(svc in SPOTLINE_SERVICES and svc in services, path, f"metrics_ports.{svc}",
                    "not a Spotline compose service")
            r.check(isinstance(port, int) and 0 < port < 65536, path, f"metrics_ports.{svc}",
                    f"{port!r} is not a fixed port")


def check_service_endpoints(r, path, name, ep, shared):
    """What `name` reads: the shared file, except that the addresses it binds are tcp://0.0.0.0:PORT,
    because libzmq resolves no host name for bind (zmq_bind("tcp://rv:7103") fails with ENODEV)."""
    for key, binder in BINDERS.items():
        want = shared.get(key)
        got = ep.get(key)
        if binder != name:
            r.check(got == want, path, key, f"{got!r} differs from compose/config/endpoints.json ({want!r})")
            continue
        parsed = parse_address(got)
        want_port = (parse_address(want) or (None, None))[1]
        r.check(parsed is not None and parsed[0] in ANY_HOST and parsed[1] == want_port, path, key,
                f"{name} binds this: it must be tcp://0.0.0.0:{want_port} (libzmq cannot bind a host name), "
                f"not {got!r}")
    r.check(ep.get("metrics_ports") == shared.get("metrics_ports"), path, "metrics_ports",
            "differs from compose/config/endpoints.json")


def check_healthcheck(r, compose_file, name, svc, port, ep, item):
    hc = svc.get("healthcheck")
    if not r.check(isinstance(hc, dict) and hc.get("test"), compose_file, item(name, "healthcheck"), "missing"):
        return
    test = hc["test"] if isinstance(hc["test"], str) else " ".join(str(x) for x in hc["test"])
    for p in re.findall(r"(?:127\.0\.0\.1|localhost):(\d+)/metrics", test):
        r.check(int(p) == port, compose_file, item(name, "healthcheck"),
                f"asks port {p} for /metrics, but the service serves them on {port}")
    bound = {parse_address(v)[1] for k, v in (ep or {}).items()
             if k in BINDERS and BINDERS[k] == name and parse_address(v)}
    for p in re.findall(r"/dev/tcp/[^/]+/(\d+)", test):
        r.check(int(p) in bound, compose_file, item(name, "healthcheck"),
                f"probes port {p}, which {name} does not bind (it binds {sorted(bound)})")


def check_volumes(r, compose_file, services, item):
    """The journal, outbox, bridge state and signing key live on named volumes; only rv writes the journal."""
    def named(name, path, what):
        if name not in services or path is None:
            return None
        m = mount_at(services[name], path)
        ok = m is not None and m["type"] == "volume" and m["source"]
        r.check(ok, compose_file, item(name, "volumes"), f"{what} {path} is not on a named volume")
        return m if ok else None

    rv = services.get("rv")
    journal = None
    if rv:
        argv = argv_of(rv)
        jm = named("rv", flag(argv, "--journal"), "--journal")
        if jm:
            journal = jm["source"]
            r.check(not jm["read_only"], compose_file, item("rv", "volumes"), "rv's journal must be writable")
        key = flag(argv, "--signing-key")
        if r.check(key is not None, compose_file, item("rv", "command"), "no --signing-key"):
            km = named("rv", str(PurePosixPath(key).parent), "the directory of --signing-key")
            if km and journal:
                r.check(km["source"] != journal, compose_file, item("rv", "volumes"),
                        "the signing key must not live on the journal volume")
    if "delivery" in services:
        named("delivery", flag(argv_of(services["delivery"]), "--outbox") or "", "--outbox")
    if "bridge" in services:
        argv = argv_of(services["bridge"])
        bj = named("bridge", flag(argv, "--journal"), "--journal")
        if bj and journal:
            r.check(bj["source"] == journal, compose_file, item("bridge", "volumes"),
                    f"the bridge reads volume {bj['source']}, but rv journals to {journal}")
        st = named("bridge", flag(argv, "--state"), "--state")
        if st and journal:
            r.check(st["source"] != journal, compose_file, item("bridge", "volumes"),
                    "the bridge's state must not live on the journal volume")
    if journal:
        for name, svc in services.items():
            for m in mounts_of(svc):
                if m["type"] == "volume" and m["source"] == journal and name != "rv":
                    r.check(m["read_only"], compose_file, item(name, "volumes"),
                            f"mounts the journal volume {journal} writable; only rv writes it")


def check_dockerfile(r, dockerfile, repo):
    instructions = dockerfile_instructions(dockerfile)
    froms = [rest for word, rest in instructions if word == "FROM"]
    r.check(froms and froms[0].split()[0] == "debian:12", dockerfile, "FROM",
            f"{froms[0] if froms else 'none'}: the project builds on Debian 12")
    patterns = dockerignore_patterns(repo)
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    r.check("scripts/install-deps.sh" in runs, dockerfile, "RUN", "does not run scripts/install-deps.sh")
    for word, rest in instructions:
        if word not in ("COPY", "ADD"):
            continue
        if rest.startswith("["):
            parts = json.loads(rest)
        else:
            parts = shlex.split(rest)
        if any(p.startswith("--from") for p in parts):
            continue
        parts = [p for p in parts if not p.startswith("--")]
        for src in parts[:-1]:
            if re.match(r"^[a-z]+://", src):
                continue
            if any(c in src for c in "*?["):
                found = glob.glob(str(repo / src))
                r.check(found, dockerfile, f"{word} {src}", "matches no file in the build context")
                continue
            r.check((repo / src).exists(), dockerfile, f"{word} {src}", "does not exist in the build context")
            if src not in (".", "./"):
                r.check(not ignored(src, patterns), dockerfile, f"{word} {src}", "is excluded by .dockerignore")


def check_prometheus(r, path, services, metrics_port, prom_name, prom_port):
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        r.check(False, path, "YAML", str(e))
        return
    scraped = set()
    jobs = cfg.get("scrape_configs") or []
    r.check(jobs, path, "scrape_configs", "none")
    for job in jobs:
        jname = job.get("job_name", "?")
        r.check(job.get("metrics_path", "/metrics") == "/metrics", path, f"job {jname}",
                "Spotline serves /metrics only")
        for sc in job.get("static_configs") or []:
            for target in sc.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                if not r.check(host in services and port.isdigit(), path, f"job {jname} target {target}",
                               f"{host} is not a compose service"):
                    continue
                want = prom_port if host == prom_name else metrics_port.get(host)
                r.check(want is not None and int(port) == want, path, f"job {jname} target {target}",
                        f"{host} serves metrics on {want}" if want else f"{host} serves no known metrics port")
                scraped.add(host)
    for name in SPOTLINE_SERVICES:
        if name in services:
            r.check(name in scraped, path, "scrape_configs", f"nothing scrapes {name}")


def check_grafana(r, repo, compose_dir, compose_file, services, gname, prom_name, prom_port, item):
    graf = services[gname]
    env = env_of(graf)
    prov = env.get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
    prov_host = host_path(compose_dir, graf, prov)
    if not r.check(prov_host is not None and prov_host.is_dir(), compose_file, item(gname, "volumes"),
                   f"{prov} is not bind-mounted from a directory in compose/"):
        return set(), 0
    uids = set()
    ds_files = sorted(glob.glob(str(prov_host / "datasources" / "*.y*ml")))
    r.check(ds_files, prov_host / "datasources", "files", "no datasource file")
    prom_sources = 0
    for f in ds_files:
        d = yaml.safe_load(Path(f).read_text()) or {}
        for ds in d.get("datasources") or []:
            if ds.get("uid"):
                uids.add(ds["uid"])
            if ds.get("type") != "prometheus":
                continue
            prom_sources += 1
            u = urlparse(ds.get("url", ""))
            r.check(u.hostname == prom_name and (u.port or 80) == prom_port, f, f"datasource {ds.get('name')}",
                    f"url {ds.get('url')} is not the prometheus service (http://{prom_name}:{prom_port})")
    r.check(prom_sources > 0, prov_host / "datasources", "datasources", "no Prometheus datasource")

    dash_files = []
    prov_files = sorted(glob.glob(str(prov_host / "dashboards" / "*.y*ml")))
    r.check(prov_files, prov_host / "dashboards", "files", "no dashboard provider")
    for f in prov_files:
        d = yaml.safe_load(Path(f).read_text()) or {}
        for p in d.get("providers") or []:
            cpath = (p.get("options") or {}).get("path")
            hp = host_path(compose_dir, graf, cpath) if cpath else None
            if r.check(hp is not None and hp.is_dir(), f, f"provider {p.get('name')}",
                       f"options.path {cpath} is not bind-mounted from a directory in compose/"):
                found = sorted(hp.rglob("*.json"))
                r.check(found, f, f"provider {p.get('name')}", f"{r.where(hp)} holds no dashboard")
                dash_files += found
    home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        hp = host_path(compose_dir, graf, home)
        r.check(hp is not None and hp.is_file(), compose_file, item(gname, "environment"),
                f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is no mounted file")

    corpus = source_text([p for p in (repo / "services", repo / "monitoring") if p.exists()])
    bridge_dir = repo / "services" / "bridge"
    bridge_corpus = source_text([bridge_dir]) if bridge_dir.exists() else None
    names_used = set()
    panels = 0
    for f in dash_files:
        d = load_json(r, f)
        if d is None:
            continue
        stack = list(d.get("panels") or [])
        while stack:
            p = stack.pop()
            stack += p.get("panels") or []
            if p.get("type") == "row":
                continue
            panels += 1
            for t in p.get("targets") or []:
                for ds in (t.get("datasource"), p.get("datasource")):
                    uid = (ds or {}).get("uid") if isinstance(ds, dict) else None
                    if uid and not uid.startswith("$"):
                        r.check(uid in uids, f, f"panel {p.get('title')!r}", f"datasource uid {uid} is not provisioned")
                expr = t.get("expr")
                if not expr:
                    continue
                for name in promql_metric_names(expr):
                    names_used.add(name)
                    check_metric(r, f, p.get("title"), name, corpus, bridge_corpus)
    r.check(panels > 0, compose_dir / "grafana", "dashboards", "no panel")
    return names_used, panels


def check_metric(r, f, title, name, corpus, bridge_corpus):
    where = f"panel {title!r}"
    if not name.startswith("spotline_"):
        r.check(name in PROMETHEUS_SERIES, f, where,
                f"{name} is neither a Spotline metric nor a series Prometheus makes")
        return
    candidates = [name] + [name[: -len(s)] for s in ("_bucket", "_sum", "_count") if name.endswith(s)]
    if name.startswith("spotline_bridge_"):
        if bridge_corpus is None:
            return  # services/bridge/ not written yet
        r.check(any(f'"{c}"' in bridge_corpus for c in candidates), f, where,
                f"{name} is not a metric of services/bridge/")
        return
    r.check(any(f'"{c}"' in corpus for c in candidates), f, where,
            f"{name} appears nowhere in the C++ sources under services/ or monitoring/")


if __name__ == "__main__":
    sys.exit(main())
