"""Checks that the deployment files (Docker, compose, entrypoint, .env) agree with each other."""

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import skipIf

from django.test import SimpleTestCase

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with drf-spectacular
    yaml = None

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = "docker/entrypoint.sh"
DOCUMENTED_VARIABLES = [
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "PORT",
]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return the Dockerfile's (INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def as_mapping(environment) -> dict[str, str]:
    """Normalise a compose `environment:` (mapping or KEY=VALUE list) to a dict."""
    if isinstance(environment, dict):
        return {key: str(value) for key, value in environment.items()}
    return dict(item.split("=", 1) for item in environment or [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@skipIf(yaml is None, "PyYAML is not installed, so docker-compose.yml cannot be parsed")
class DockerComposeTests(SimpleTestCase):
    """docker-compose.yml runs the web service against healthy db and redis services."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with (ROOT / "docker-compose.yml").open(encoding="utf-8") as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]

    def test_db_web_and_redis_services_exist(self):
        self.assertLessEqual({"db", "web", "redis"}, set(self.services))

    def test_db_has_a_healthcheck_and_keeps_its_data_in_a_named_volume(self):
        db = self.services["db"]
        self.assertIn("pg_isready", str(db["healthcheck"]["test"]))
        volume_names = {str(volume).split(":", 1)[0] for volume in db["volumes"]}
        self.assertTrue(volume_names & set(self.compose.get("volumes") or {}), volume_names)

    def test_redis_has_a_healthcheck(self):
        self.assertIn("ping", str(self.services["redis"]["healthcheck"]["test"]))

    def test_web_starts_only_after_db_and_redis_are_healthy(self):
        depends_on = self.services["web"]["depends_on"]
        self.assertEqual(depends_on["db"]["condition"], "service_healthy")
        self.assertEqual(depends_on["redis"]["condition"], "service_healthy")

    def test_web_reads_dotenv_but_always_talks_to_the_db_service(self):
        web = self.services["web"]
        env_file = web["env_file"]
        self.assertIn(".env", [env_file] if isinstance(env_file, str) else env_file)
        environment = as_mapping(web["environment"])
        self.assertEqual(environment["POSTGRES_HOST"], "db")
        self.assertTrue(environment["POSTGRES_DB"], "web must always get a database name")

    def test_web_and_db_use_the_same_credentials(self):
        web = as_mapping(self.services["web"]["environment"])
        db = as_mapping(self.services["db"]["environment"])
        for name in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"):
            self.assertEqual(web[name], db[name], name)

    def test_web_publishes_container_port_8000(self):
        web = self.services["web"]
        self.assertTrue(any(str(port).endswith(":8000") for port in web["ports"]), web["ports"])
        # .env's PORT picks the host port only; the container must keep listening on 8000.
        self.assertEqual(as_mapping(web["environment"]).get("PORT"), "8000")


class DockerfileTests(SimpleTestCase):
    """The image runs as non-root, installs dependencies in a cached layer and checks health."""

    def setUp(self):
        self.instructions = dockerfile_instructions()

    def test_runs_as_a_non_root_user(self):
        users = [args for keyword, args in self.instructions if keyword == "USER"]
        self.assertTrue(users, "no USER instruction")
        self.assertNotIn(users[-1].split(":")[0], {"root", "0"})

    def test_healthcheck_hits_the_health_endpoint(self):
        checks = [args for keyword, args in self.instructions if keyword == "HEALTHCHECK"]
        self.assertTrue(checks and "/api/health/" in checks[-1], checks)

    def test_exposes_port_8000(self):
        exposed = [args.split() for keyword, args in self.instructions if keyword == "EXPOSE"]
        self.assertIn("8000", [port.split("/")[0] for ports in exposed for port in ports])

    def test_requirements_are_installed_before_the_code_is_copied(self):
        def first(predicate) -> int:
            for index, (keyword, args) in enumerate(self.instructions):
                if predicate(keyword, args):
                    return index
            self.fail("instruction not found")

        copy_requirements = first(lambda k, a: k == "COPY" and "requirements.txt" in a)
        install = first(lambda k, a: k == "RUN" and "pip install" in a and "requirements" in a)
        copy_code = first(lambda k, a: k == "COPY" and a.split()[0] == ".")
        self.assertLess(copy_requirements, install)
        self.assertLess(install, copy_code)

    def test_entrypoint_is_the_executable_wait_and_migrate_script(self):
        path = ROOT / ENTRYPOINT
        self.assertTrue(path.is_file())
        self.assertTrue(os.access(path, os.X_OK), f"{ENTRYPOINT} is not executable")
        self.assertTrue(path.read_text(encoding="utf-8").startswith("#!/bin/sh"))
        entrypoints = [args for keyword, args in self.instructions if keyword == "ENTRYPOINT"]
        self.assertTrue(entrypoints and ENTRYPOINT in entrypoints[-1], entrypoints)

    def test_build_context_leaves_out_secrets_and_local_state(self):
        ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
        self.assertLessEqual({".env", ".venv", ".git"}, set(ignored))


class EntrypointTests(SimpleTestCase):
    """docker/entrypoint.sh gives up on an unreachable database instead of running the command."""

    def test_gives_up_on_an_unreachable_database_without_running_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            marker = Path(tmp) / "ran"
            env = {
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYTHON": sys.executable,
                "POSTGRES_DB": "nothing_listens_here",
                "POSTGRES_HOST": "127.0.0.1",
                "POSTGRES_PORT": str(free_port()),
                "DB_WAIT_TIMEOUT": "1",
            }
            result = subprocess.run(
                ["sh", str(ROOT / ENTRYPOINT), "touch", str(marker)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            self.assertNotEqual(result.returncode, 0, result.stdout)
            self.assertIn("gave up on PostgreSQL", result.stderr)
            self.assertFalse(marker.exists())


class EnvExampleTests(SimpleTestCase):
    """.env.example documents every setting, and ensure_env.py turns it into a usable .env."""

    def setUp(self):
        self.example = ROOT / ".env.example"
        self.text = self.example.read_text(encoding="utf-8")

    def ensure_env(self, target: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "ensure_env.py"),
                "--example",
                str(self.example),
                "--target",
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    @staticmethod
    def secret_key(env_text: str) -> str:
        return re.search(r"^DJANGO_SECRET_KEY=(.*)$", env_text, re.MULTILINE)[1]

    def test_every_variable_is_documented(self):
        for name in DOCUMENTED_VARIABLES:
            with self.subTest(name=name):
                self.assertRegex(self.text, rf"(?m)^#?\s*{name}=")

    def test_a_copy_uses_sqlite_and_a_placeholder_secret(self):
        self.assertEqual(self.secret_key(self.text), "change-me")
        self.assertNotRegex(self.text, r"(?m)^POSTGRES_DB=\S")

    def test_ensure_env_writes_a_fresh_secret_and_keeps_it_on_later_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            first, second = Path(tmp) / "one.env", Path(tmp) / "two.env"
            self.ensure_env(first)
            self.ensure_env(second)
            key = self.secret_key(first.read_text(encoding="utf-8"))
            self.assertNotEqual(key, "change-me")
            self.assertGreaterEqual(len(key), 50)
            self.assertNotEqual(key, self.secret_key(second.read_text(encoding="utf-8")))
            self.assertEqual(first.read_text(encoding="utf-8").replace(key, "change-me"), self.text)

            self.ensure_env(first)
            self.assertEqual(self.secret_key(first.read_text(encoding="utf-8")), key)

    def test_ensure_env_fills_the_placeholder_of_a_copied_env_and_keeps_the_rest(self):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / ".env"
            target.write_text("DJANGO_DEBUG=1\nDJANGO_SECRET_KEY=change-me\n", encoding="utf-8")
            self.ensure_env(target)
            text = target.read_text(encoding="utf-8")
            self.assertTrue(text.startswith("DJANGO_DEBUG=1\nDJANGO_SECRET_KEY="))
            self.assertNotEqual(self.secret_key(text), "change-me")
