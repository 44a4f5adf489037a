"""deploy/: the compose file, the systemd unit and the Kubernetes manifests agree with hamon and
with each other; the PostgreSQL init script's read-only role really reads hamon's tables."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from helpers import require
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hamon.cli import main
from hamon.cli.serve import load_config, serve_cmd
from hamon.resolve.inventory import parse_inventory
from hamon.service.serve import ServeConfig

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def serve_args_ok(args: list[str]) -> None:
    """The arguments parse as `hamon serve` options (click's own parser)."""
    assert args[0] == "serve"
    serve_cmd.make_context("serve", list(args[1:]), resilient_parsing=False)


def listen_ports(config: dict[str, Any]) -> set[tuple[int, str]]:
    ports = set()
    for key, proto in (("syslog_udp", "udp"), ("syslog_tcp", "tcp"), ("snmp_trap", "udp"), ("metrics", "tcp")):
        values = config.get(key) or []
        for value in [values] if isinstance(values, str) else values:
            ports.add((int(value.rsplit(":", 1)[1]), proto))
    return ports


def test_compose_runs_serve_postgres_and_grafana_with_the_provisioning() -> None:
    compose_dir = DEPLOY / "compose"
    doc = yaml.safe_load((compose_dir / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"hamon", "postgres", "grafana"}
    hamon = services["hamon"]
    serve_args_ok(hamon["command"])
    # The journal is on a named volume, not in the container's writable layer.
    journal = hamon["environment"]["HAMON_JOURNAL_DIR"]
    assert f"journal:{journal}" in hamon["volumes"] and "journal" in doc["volumes"]
    assert hamon["environment"]["HAMON_DB"].startswith("postgresql+psycopg://hamon:")
    assert "@postgres:5432/hamon" in hamon["environment"]["HAMON_DB"]
    # Every file mounted from the repository exists.
    for svc in services.values():
        for volume in svc.get("volumes", []):
            src = volume.split(":")[0]
            if src.startswith("."):
                assert (compose_dir / src).resolve().exists(), src
    config = load_config(str(compose_dir / "serve.yml"))
    ServeConfig(**config)
    published = {(int(p.split(":")[-1].split("/")[0]), p.rsplit("/", 1)[1]) for p in hamon["ports"]}
    assert listen_ports(config) == published
    # Grafana gets every variable the datasource provisioning file uses without a default.
    datasource = (DEPLOY / "grafana/provisioning/datasources/hamon.yaml").read_text()
    used = set(re.findall(r"\$\{(HAMON_PG_\w+)\}", datasource))
    assert "HAMON_PG_READER_PASSWORD" in used
    assert used <= set(services["grafana"]["environment"])
    assert "/etc/grafana/provisioning" in " ".join(services["grafana"]["volumes"])
    # The reader role the init script creates is the one Grafana logs in as.
    assert (
        services["postgres"]["environment"]["HAMON_PG_READER"] == services["grafana"]["environment"]["HAMON_PG_READER"]
    )


def test_the_image_runs_as_the_user_kubernetes_expects_and_exposes_the_ports() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    uid = int(re.search(r"useradd .*--uid (\d+)", dockerfile).group(1))  # type: ignore[union-attr]
    deployment = yaml.safe_load((DEPLOY / "kubernetes/deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid
    exposed = {(int(p), proto) for p, proto in re.findall(r"(\d+)/(udp|tcp)", dockerfile.split("EXPOSE", 1)[1])}
    assert listen_ports(load_config(str(DEPLOY / "compose/serve.yml"))) <= exposed


def test_kubernetes_manifests_fit_together() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kubernetes/kustomization.yaml").read_text())
    docs = [d for f in kustomization["resources"] for d in yaml.safe_load_all((DEPLOY / "kubernetes" / f).read_text())]
    kinds = {d["kind"]: d for d in docs if d["kind"] != "Service"}
    services = [d for d in docs if d["kind"] == "Service"]
    assert {"Namespace", "ConfigMap", "Deployment"} <= set(kinds)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    serve_args_ok(container["args"])
    assert (
        kinds["Deployment"]["spec"]["replicas"] == 1 and kinds["Deployment"]["spec"]["strategy"]["type"] == "Recreate"
    )
    data = kinds["ConfigMap"]["data"]
    config = yaml.safe_load(data["serve.yml"])
    ServeConfig(**config)
    parse_inventory(yaml.safe_load(data["inventory.yml"]), "configmap inventory.yml")
    ports = {p["name"]: (p["containerPort"], p["protocol"].lower()) for p in container["ports"]}
    assert set(ports.values()) == listen_ports(config)
    for svc in services:
        assert svc["spec"]["selector"] == kinds["Deployment"]["spec"]["selector"]["matchLabels"]
        for p in svc["spec"]["ports"]:
            assert ports[p["targetPort"]][1] == p["protocol"].lower()
    assert container["readinessProbe"]["httpGet"]["port"] in ports
    assert container["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]["runAsNonRoot"]
    # The root filesystem is read-only: the journal lives on a claim that outlives the pod.
    journal = next(e["value"] for e in container["env"] if e["name"] == "HAMON_JOURNAL_DIR")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claim = next(v for v in pod["volumes"] if v["name"] == mounts[journal])["persistentVolumeClaim"]["claimName"]
    assert kinds["PersistentVolumeClaim"]["metadata"]["name"] == claim
    if shutil.which("kubectl"):  # kustomize builds offline when kubectl is there
        out = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "kubernetes")], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert all(
            d["metadata"].get("namespace") == "hamon"
            for d in yaml.safe_load_all(out.stdout)
            if d["kind"] != "Namespace"
        )


HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter=@system-service",
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
)


def test_systemd_unit_is_hardened_and_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "systemd/hamon.service").read_text()
    for option in HARDENING:
        assert f"\n{option}\n" in unit, option
    exec_start = re.search(r"^ExecStart=(\S+) (.*)$", unit, re.M)
    assert exec_start is not None
    serve_args_ok(exec_start.group(2).split())
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit  # SIGHUP reloads the inventory
    # The journal's default folder for a PostgreSQL store is the unit's persistent state directory.
    assert "\nStateDirectory=hamon\n" in unit and "HAMON_JOURNAL_DIR" not in unit
    ServeConfig(**load_config(str(DEPLOY / "systemd/serve.yml")))
    analyze = require("systemd-analyze", "systemd-analyze verify checks the unit file")
    hamon = require("hamon", "the installed hamon script is what the unit runs")
    copy = tmp_path / "hamon.service"
    copy.write_text(unit.replace(exec_start.group(1), hamon))
    out = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (out.stdout + out.stderr).splitlines() if "hamon.service" in line]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr


@pytest.mark.postgres
def test_postgres_init_script_makes_a_reader_that_reads_and_cannot_write(postgres_url: str) -> None:
    url = make_url(postgres_url)
    role = f"grafana_ro_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide: one per run, dropped after
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "hamon",
        "POSTGRES_DB": url.database or "",
        "HAMON_PG_READER": role,
        "HAMON_PG_READER_PASSWORD": "reader-pw",
    }
    run = subprocess.run(["sh", str(DEPLOY / "postgres/init-reader.sh")], env=env, capture_output=True, text=True)
    owner = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        assert run.returncode == 0, run.stderr
        _reader_reads(postgres_url, url.set(username=role, password="reader-pw"))
    finally:
        with owner.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        owner.dispose()


def _reader_reads(postgres_url: str, reader_url: Any) -> None:
    # hamon creates its tables after the script ran (as in compose: the image runs the script first).
    result = CliRunner().invoke(main, ["--db", postgres_url, "replay", str(ROOT / "examples/asa-pair.log"), "--json"])
    assert result.exit_code == 0, result.output
    reader = create_engine(reader_url)
    try:
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() > 0
            assert conn.execute(text("SELECT count(*) FROM failovers")).scalar_one() > 0
        with reader.connect() as conn, pytest.raises(Exception, match="permission denied"):
            conn.execute(text("DELETE FROM events"))
    finally:
        reader.dispose()


def test_the_image_build_stage_has_what_the_wheel_needs(tmp_path: Path) -> None:
    """The files the Dockerfile copies build hamon's wheel, C scanner and TextFSM templates included
    (no Docker engine here: the build stage's own command on the same inputs)."""
    require("cc", "the wheel's C line scanner needs a C compiler, as the image's build stage has")
    dockerfile = (DEPLOY / "Dockerfile").read_text().split("FROM", 2)[1]  # the build stage
    context = tmp_path / "context"
    context.mkdir()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for src in sources:
                path = ROOT / src
                if path.is_dir():
                    shutil.copytree(path, context / src, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
                else:
                    shutil.copy(path, context / src)
    wheels = tmp_path / "wheels"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        str(wheels),
        str(context),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = wheels.glob("hamon-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("hamon/parse/_scan") and n.endswith(".so") for n in names)
    assert "hamon/poll/templates/cisco_asa_show_failover_history.textfsm" in names
    assert "hamon/collectors/ssh_poll.py" in names


GO_EXPAND = """package main

import (
\t"fmt"
\t"os"
)

// Grafana expands environment variables in provisioning files the way Go's os.ExpandEnv does.
func main() {
\tdata, err := os.ReadFile(os.Args[1])
\tif err != nil {
\t\tpanic(err)
\t}
\tfmt.Print(os.ExpandEnv(string(data)))
}
"""


def _compose_environment(service: str) -> dict[str, str]:
    """A compose service's environment with compose's own `${VAR:-default}` resolved (VAR unset)."""
    doc = yaml.safe_load((ROOT / "deploy/compose/docker-compose.yml").read_text())
    env = doc["services"][service]["environment"]
    out = {}
    for key, value in env.items():
        text = str(value)
        text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)  # the default, as compose gives it
        text = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-by-the-operator", text)
        text = re.sub(r"\$\{[A-Z_]+\}", "set-by-the-operator", text)
        out[key] = text
    return out


def test_grafana_provisioning_expands_to_a_working_datasource(tmp_path: Path) -> None:
    go = require("go", "Go's os.ExpandEnv is how Grafana reads its provisioning")
    (tmp_path / "expand.go").write_text(GO_EXPAND)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAMON_")}
    env |= _compose_environment("grafana") | {"GOCACHE": str(tmp_path / "cache"), "GOFLAGS": "-mod=mod"}
    src = ROOT / "deploy/grafana/provisioning/datasources/hamon.yaml"
    out = subprocess.run(
        [go, "run", str(tmp_path / "expand.go"), str(src)], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    ds = yaml.safe_load(out.stdout)["datasources"][0]
    assert ds["url"] == "postgres:5432" and ds["user"] == "hamon_reader"
    assert ds["jsonData"]["database"] == "hamon" and ds["jsonData"]["sslmode"] == "disable"
    assert ds["secureJsonData"]["password"] == "set-by-the-operator"


def _parses(args: list[str]) -> None:
    """Arguments that parse as the hamon subcommand they name (click's own parser)."""
    cmd = main.commands[args[0]]
    if isinstance(cmd, __import__("click").Group):
        cmd, args = cmd.commands[args[1]], args[1:]
    cmd.make_context(args[0], list(args[1:]), resilient_parsing=False)


def test_the_scale_out_compose_runs_kafka_a_sink_and_two_workers() -> None:
    compose_dir = DEPLOY / "compose"
    doc = yaml.safe_load((compose_dir / "scale-out.yml").read_text())
    services = doc["services"]
    for base in ("postgres", "grafana"):  # the same services as the single-process file
        assert services[base]["extends"] == {"file": "docker-compose.yml", "service": base}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    init = services["kafka-init"]["command"]
    _parses(init)
    assert init[:2] == ["kafka", "init"] and "kafka://kafka:9092" in init
    sink, worker = services["sink"]["command"], services["worker"]["command"]
    serve_args_ok(sink)
    _parses(worker)
    assert sink[sink.index("--bus") + 1] == worker[worker.index("--bus") + 1] == "kafka://kafka:9092"
    assert services["worker"]["deploy"]["replicas"] == 2 and "HAMON_DB" in services["worker"]["environment"]
    assert "HAMON_DB" not in services["sink"].get("environment", {}), "the sink stores nothing of the pairs"


def test_the_scale_out_kustomization_turns_the_deployment_into_a_sink_and_adds_workers() -> None:
    here = DEPLOY / "kubernetes-scale-out"
    k = yaml.safe_load((here / "kustomization.yaml").read_text())
    assert "../kubernetes" in k["resources"] and "worker.yaml" in k["resources"]
    sink = yaml.safe_load((here / "sink.yaml").read_text())
    base = yaml.safe_load((DEPLOY / "kubernetes/deployment.yaml").read_text())
    assert sink["metadata"]["name"] == base["metadata"]["name"]  # a patch of the base Deployment
    args = sink["spec"]["template"]["spec"]["containers"][0]["args"]
    serve_args_ok(args)
    assert args[args.index("--bus") + 1] == "$(HAMON_BUS)"
    worker = yaml.safe_load((here / "worker.yaml").read_text())
    c = worker["spec"]["template"]["spec"]["containers"][0]
    _parses(c["args"])
    assert worker["spec"]["replicas"] >= 2 and worker["spec"]["strategy"]["type"] == "RollingUpdate"
    assert (
        worker["spec"]["selector"]["matchLabels"] != base["spec"]["selector"]["matchLabels"]
    )  # not behind the syslog Service
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["envFrom"][0]["secretRef"]["name"] == "hamon-secrets"
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(here)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        kinds = [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(out.stdout)]
        assert ("Deployment", "hamon") in kinds and ("Deployment", "hamon-worker") in kinds
