"""The container deployment: compose.yaml runs closeloop with PostgreSQL as `docker compose up` would, the
build context carries only what deploy/Dockerfile copies, and every setting compose passes is a real key.

`docker compose config` validates the file where Docker Compose is installed; everywhere, the file is
parsed and its services, environment, volumes and health checks are checked against the code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import parse_settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "compose.yaml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
PASSWORD = "compose-test-password"


def _interpolated(text: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} with ``env``; an unset required one fails."""
    def value(found: re.Match[str]) -> str:
        name, operator, rest = found.group(1), found.group(2), found.group(3) or ""
        if env.get(name):
            return env[name]
        if operator == ":?":
            raise AssertionError(f"compose would refuse to start without {name}: {rest}")
        return rest if operator == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", value, text)


def _compose(env: dict[str, str]) -> dict[str, Any]:
    loaded = yaml.safe_load(_interpolated(COMPOSE.read_text("utf-8"), env))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_closeloop_on_postgresql_with_health_checks_and_volumes() -> None:
    compose = _compose({"POSTGRES_PASSWORD": PASSWORD})
    services = compose["services"]
    assert set(services) == {"closeloop", "postgres"}
    app, database = services["closeloop"], services["postgres"]

    assert app["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"} and DOCKERFILE.is_file()
    assert app["depends_on"] == {"postgres": {"condition": "service_healthy"}}, "closeloop waits for a ready database"
    for service in (app, database):
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["interval"] and check["retries"] >= 3
    assert "pg_isready" in " ".join(database["healthcheck"]["test"])
    assert "9464/healthz" in " ".join(app["healthcheck"]["test"])

    named = {volume.split(":")[0] for service in services.values() for volume in service["volumes"]
             if not volume.startswith((".", "/"))}
    assert named == set(compose["volumes"]) == {"postgres-data", "closeloop-data"}, "state outlives containers"
    assert "postgres-data:/var/lib/postgresql/data" in database["volumes"]
    assert "./config.toml:/etc/closeloop/config.toml:ro" in app["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in app["ports"]), "published on the host's loopback only"
    assert int(app["stop_grace_period"].rstrip("s")) > 30, "longer than daemon.stop_timeout_seconds"

    env = app["environment"]
    user, db = database["environment"]["POSTGRES_USER"], database["environment"]["POSTGRES_DB"]
    assert env["CLOSELOOP_DATABASE_URL"] == f"postgresql://{user}:{PASSWORD}@postgres:5432/{db}"
    assert env["POSTGRES_PASSWORD"] == PASSWORD, "named in closeloop's environment, so its logs mask it"


def test_every_setting_compose_passes_is_a_real_key_and_takes_effect() -> None:
    env = {k: str(v) for k, v in _compose({"POSTGRES_PASSWORD": PASSWORD})["services"]["closeloop"]
           ["environment"].items()}
    shipped = tomllib.loads((REPO / "config.toml").read_text("utf-8"))
    settings = parse_settings(shipped, origin="config.toml", env=env)  # an unknown or bad key raises here
    assert settings.database.url.startswith("postgresql://") and settings.app.data_dir == "/var/lib/closeloop"
    assert (settings.console.host, settings.daemon.health_host) == ("0.0.0.0", "0.0.0.0")
    assert settings.daemon.node_id == "closeloop-1"
    assert {f"{settings.console.port}", f"{settings.daemon.health_port}"} == {
        port.rsplit(":", 1)[1] for port in _compose({"POSTGRES_PASSWORD": PASSWORD})["services"]["closeloop"]["ports"]}


def test_compose_refuses_to_start_without_the_database_password() -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        _compose({})


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "everything is left out unless named"
    kept = {line[1:] for line in ignore if line.startswith("!")}
    copied = set()
    for line in DOCKERFILE.read_text("utf-8").splitlines():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    assert copied == kept, "the image's sources, exactly"
    assert {"**/__pycache__", "**/*.db"} <= set(ignore)
    entrypoint = next(line for line in DOCKERFILE.read_text("utf-8").splitlines() if line.startswith("ENTRYPOINT"))
    assert "/etc/closeloop/config.toml" in entrypoint, "compose mounts the config where the image reads it"


@pytest.mark.skipif(shutil.which("docker") is None, reason="Docker is not installed here")
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if version.returncode != 0:
        pytest.skip("the docker command has no compose plugin here")
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], cwd=REPO,
                          env={**os.environ, "POSTGRES_PASSWORD": PASSWORD}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
