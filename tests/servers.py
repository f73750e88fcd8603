"""Real servers on 127.0.0.1 for the tests: moto's S3 API server, OpenSSH's sshd (and paramiko's SFTP server),
a TCP proxy that drops a connection midway, PostgreSQL and a Prefect server on it (:mod:`bench.services`, which
the soak starts too).  Loaded by ``conftest.py`` as a pytest plugin."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paramiko
import pytest

from bench.services import Postgres, PrefectServer, free_port, start_postgres


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} in {seconds} s")


def s3_client() -> Any:
    """An S3 client with the credentials and endpoint the environment has now (boto3's default session would
    keep the first it read)."""
    import boto3

    return boto3.session.Session().client("s3")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server, one per test process."""
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, "moto_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the S3 server, with the environment a user sets for an S3-compatible store; its URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "feedcheck-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "feedcheck-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    bucket = f"shop-{uuid.uuid4().hex[:12]}"
    s3_client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/"


@dataclass(frozen=True)
class S3Keys:
    """Access keys of moto's IAM: one that may do anything in S3, one that may only read."""

    endpoint: str
    writer: tuple[str, str]
    reader: tuple[str, str]


@pytest.fixture(scope="session")
def s3_iam() -> Iterator[S3Keys]:
    """A second S3 server that checks every request's signature and the policy of its key (once the users are
    made: moto lets the first INITIAL_NO_AUTH_ACTION_COUNT requests through unchecked)."""
    import boto3

    port = free_port()
    env = os.environ | {"INITIAL_NO_AUTH_ACTION_COUNT": "6"}
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for_port(port, server, "moto_server")
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.session.Session().client("iam", endpoint_url=endpoint, region_name="us-east-1",
                                             aws_access_key_id="testing", aws_secret_access_key="testing")
        keys = {}
        for user, actions in (("writer", ["s3:*"]), ("reader", ["s3:GetObject", "s3:ListBucket"])):
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
            iam.put_user_policy(UserName=user, PolicyName=user, PolicyDocument=json.dumps(policy))
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        yield checked_as_aws_does(S3Keys(endpoint, keys["writer"], keys["reader"]))
    finally:
        server.terminate()
        server.wait(timeout=30)


def checked_as_aws_does(keys: S3Keys) -> S3Keys:
    """The keys, once the reader's has read and listed as AWS allows it: HEAD and ListObjectsV2 need s3:GetObject
    and s3:ListBucket. A moto release that checks other actions would fail the tests for a reason not theirs."""
    import boto3
    import botocore.exceptions
    import moto

    def client(key: tuple[str, str]) -> Any:
        return boto3.session.Session().client("s3", endpoint_url=keys.endpoint, region_name="us-east-1",
                                              aws_access_key_id=key[0], aws_secret_access_key=key[1])

    writer, reader = client(keys.writer), client(keys.reader)
    writer.create_bucket(Bucket="policy-check")
    writer.put_object(Bucket="policy-check", Key="object", Body=b"1")
    try:
        reader.head_object(Bucket="policy-check", Key="object")
        reader.list_objects_v2(Bucket="policy-check")
    except botocore.exceptions.ClientError as error:
        raise RuntimeError(f"moto {moto.__version__} refuses a key that may s3:GetObject and s3:ListBucket its "
                           f"{error.operation_name}, as AWS does not: exclude this release in pyproject.toml") from None
    return keys


@pytest.fixture
def s3_guarded(s3_iam: S3Keys, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the S3 server that checks keys, with the writer's key in the environment; its URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_iam.writer[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_iam.writer[1])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_iam.endpoint)
    bucket = f"shop-{uuid.uuid4().hex[:12]}"
    s3_client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/"


@dataclass
class Sshd:
    """An sshd on 127.0.0.1 that knows three keys: ``writer``, ``reader`` (read-only SFTP) and ``stranger``
    (not authorised); ``home`` is a test's home folder, whose ``.ssh`` holds its key and known_hosts."""

    port: int
    keys: Path
    host_key: str  # as known_hosts writes it: type and base64
    user: str
    home: Path = Path()

    def url(self, path: Path, port: int | None = None) -> str:
        return f"sftp://{self.user}@127.0.0.1:{port or self.port}{path}/"

    def trust(self, port: int) -> None:
        """Add the server's host key for ``port`` to known_hosts (a proxy in front of it)."""
        with (self.home / ".ssh" / "known_hosts").open("a") as known:
            known.write(f"[127.0.0.1]:{port} {self.host_key}\n")

    def use_key(self, name: str) -> None:
        shutil.copy(self.keys / name, self.home / ".ssh" / "id_ed25519")


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """OpenSSH's sshd (installed by tests/ensure-system.sh) with a throw-away host key and user keys."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(binary):
        raise RuntimeError("sshd is not installed: run sh tests/ensure-system.sh (the README's test command does)")
    root = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "writer", "reader", "stranger"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True)
    (root / "authorized_keys").write_text(
        (root / "writer.pub").read_text()
        + f'restrict,command="internal-sftp -R" {(root / "reader.pub").read_text()}')
    port = free_port()
    (root / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host_key'}",
        f"AuthorizedKeysFile {root / 'authorized_keys'}", f"PidFile {root / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", "LogLevel ERROR", "",
    ]))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    server = subprocess.Popen([binary, "-D", "-e", "-f", str(root / "sshd_config")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, "sshd")
        host_key = " ".join((root / "host_key.pub").read_text().split()[:2])
        yield Sshd(port, root, host_key, getpass.getuser())
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def sftp(sshd_server: Sshd, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sshd:
    """The sshd, and a home folder of the test's own with the writer's key and the server in known_hosts, as a
    user has them; HOME points at it."""
    server = replace(sshd_server, home=tmp_path / "home")
    (server.home / ".ssh").mkdir(parents=True, mode=0o700)
    server.use_key("writer")
    server.trust(server.port)
    monkeypatch.setenv("HOME", str(server.home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return server


class CuttingProxy:
    """A TCP proxy to ``port`` on 127.0.0.1 that drops every connection once ``budget`` bytes have gone
    upstream in all (a connection lost midway), and refuses to pass anything after that."""

    def __init__(self, port: int, budget: int) -> None:
        self.budget = budget
        self._upstream = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self.budget <= 0:
                    _reset(client)
                    continue
                upstream = socket.create_connection(("127.0.0.1", self._upstream))
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(65536):
                if counted:
                    with self._lock:
                        passing = data[:max(self.budget, 0)]
                        self.budget -= len(data)
                    if passing:
                        target.sendall(passing)
                    if self.budget <= 0:
                        self.cut()
                        return
                else:
                    target.sendall(data)
        except OSError:
            self.cut()

    def cut(self) -> None:
        with self._lock:
            self.budget = 0
            for connection in self._open:
                _reset(connection)
            self._open.clear()

    def close(self) -> None:
        self.cut()
        self._listener.close()


def _reset(connection: socket.socket) -> None:
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.close()
    except OSError:
        pass


class _Folder(paramiko.SFTPServerInterface):
    """An SFTP server's view of this machine's files, as paramiko serves them; without OpenSSH's
    posix-rename extension (paramiko answers it "unsupported" unless the interface implements it)."""

    def list_folder(self, path: str) -> Any:
        try:
            return [self._attributes(os.path.join(path, name), name) for name in os.listdir(path)]
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def stat(self, path: str) -> Any:
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(path))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    lstat = stat

    def open(self, path: str, flags: int, attr: Any) -> Any:
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        mode = "rb" if flags & (os.O_WRONLY | os.O_RDWR) == 0 else "r+b" if flags & os.O_RDWR else "wb"
        handle = paramiko.SFTPHandle(flags)
        handle.readfile = handle.writefile = os.fdopen(fd, mode)
        return handle

    def remove(self, path: str) -> int:
        return self._call(os.remove, path)

    def rename(self, oldpath: str, newpath: str) -> int:
        if os.path.exists(newpath):  # SSH_FXP_RENAME does not replace a file
            return paramiko.SFTP_FAILURE
        return self._call(os.rename, oldpath, newpath)

    def mkdir(self, path: str, attr: Any) -> int:
        return self._call(os.mkdir, path)

    def rmdir(self, path: str) -> int:
        return self._call(os.rmdir, path)

    @staticmethod
    def _attributes(path: str, name: str) -> Any:
        attributes = paramiko.SFTPAttributes.from_stat(os.stat(path))
        attributes.filename = name
        return attributes

    @staticmethod
    def _call(fn: Any, *args: str) -> int:
        try:
            fn(*args)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        return paramiko.SFTP_OK


class _KeyOnly(paramiko.ServerInterface):
    def __init__(self, allowed: paramiko.PKey) -> None:
        self.allowed = allowed

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL if key == self.allowed else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


@pytest.fixture
def sftp_without_posix_rename(sftp: Sshd) -> Iterator[Sshd]:
    """A second SFTP server, paramiko's, that lacks posix-rename; the same keys and a known host key."""
    host_key = paramiko.Ed25519Key.from_private_key_file(str(sftp.keys / "host_key"))
    allowed = paramiko.Ed25519Key.from_private_key_file(str(sftp.keys / "writer"))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(connection)
            transport.add_server_key(host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _Folder)
            transport.start_server(server=_KeyOnly(allowed))
            transports.append(transport)

    threading.Thread(target=serve, daemon=True).start()
    sftp.trust(port)
    yield replace(sftp, port=port)
    listener.close()
    for transport in transports:
        transport.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A cluster in a temporary folder on a free port, with the database ``prefect``."""
    data = Path(tempfile.mkdtemp(prefix="feedcheck-pg-"))  # not under pytest's folder, which postgres cannot enter
    cluster = start_postgres(data)
    try:
        yield cluster
    finally:
        cluster.ctl("stop", "-m", "fast")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_on_postgres(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-server")),
        "PREFECT_API_DATABASE_CONNECTION_URL": postgres.url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    server = PrefectServer(free_port(), env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def flows_against(api: str) -> Iterator[None]:
    """Run flows in this process against the Prefect server at ``api``.

    Prefect's events and log workers keep, for the life of the process, the API they were started with. They
    are drained (and so started again when next needed) on the way in and on the way out: else a later test's
    flows would send their task runs' events to this server, stopped by then, and never record those runs.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    _drain_prefect_workers()
    with temporary_settings({PREFECT_API_URL: api}):
        try:
            yield
        finally:
            _drain_prefect_workers()


def _drain_prefect_workers() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)
