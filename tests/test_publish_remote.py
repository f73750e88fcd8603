"""Publishing to S3 and SFTP, each a real server on 127.0.0.1: what the channel fetches is always a complete
catalog with its manifest, whatever stops a run midway."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from feedcheck.findings import FindingLog
from feedcheck.publish.atomic import publish_catalog as publish
from feedcheck.publish.destinations import DestinationError
from feedcheck.publish.destinations.remote import RemoteDestination
from feedcheck.settings import PublishOptions
from tests.conftest import FEEDS, ROOT, run
from tests.servers import CuttingProxy, S3Keys, Sshd, s3_client
from tests.test_fleet import screenshot
from tests.test_publish import candidate, items, spool_of


@pytest.fixture(params=["s3", "sftp"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty destination on each kind of server."""
    if request.param == "s3":
        return request.getfixturevalue("s3") + "feeds/shop/"
    server: Sshd = request.getfixturevalue("sftp")
    return server.url(tmp_path / "served")


def served(url: str, key: str) -> bytes | None:
    """What a channel fetches from the destination at ``key``, read with the server's own client (or, for
    SFTP, from the server's disk, which is this machine's)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        client = s3_client()
        try:
            return client.get_object(Bucket=parts.netloc, Key=parts.path.strip("/") + "/" + key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
    path = Path(parts.path) / key
    return path.read_bytes() if path.exists() else None


def listed(url: str) -> list[str]:
    """Every key under the destination."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=parts.netloc)
        prefix = parts.path.strip("/") + "/"
        return sorted(o["Key"][len(prefix):] for page in pages for o in page.get("Contents", []))
    root = Path(parts.path)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def consistent(url: str) -> dict:
    """The stable manifest, after checking that it describes the stable catalog and its version."""
    manifest = json.loads(served(url, "manifest.json") or b"{}")
    catalog = served(url, manifest["file"])
    assert catalog is not None and hashlib.sha256(catalog).hexdigest() == manifest["sha256"]
    assert served(url, f"published/{manifest['sha256'][:12]}/{manifest['file']}") == catalog
    return manifest


def publish_to(url: str, tmp_path: Path, n: int, prefix: str = "SKU", **options: object) -> tuple[str, list[str]]:
    log = FindingLog()
    result = publish(candidate(n), spool_of(items(n, prefix), tmp_path), url, PublishOptions(**options), log,
                     work=tmp_path / "work")
    return result.outcome, [f.code for f in log]


def test_a_remote_publish_serves_the_bytes_of_a_local_one(remote: str, tmp_path: Path) -> None:
    for fmt in ("csv", "xml"):
        local = tmp_path / f"local-{fmt}"
        publish(candidate(10), spool_of(items(10), tmp_path), local, PublishOptions(format=fmt), FindingLog())
        assert publish_to(remote, tmp_path, 10, format=fmt) == ("published", ["publish.published"])
        assert served(remote, f"catalog.{fmt}") == (local / f"catalog.{fmt}").read_bytes()
        manifest = consistent(remote)
        assert manifest == json.loads(served(remote, f"published/{manifest['sha256'][:12]}/manifest.json") or b"")
        assert manifest["format"] == fmt and manifest["items"] == 10
    assert not [key for key in listed(remote) if ".feedcheck-" in key]


def test_the_gate_compares_with_the_manifest_at_the_destination(remote: str, tmp_path: Path) -> None:
    publish_to(remote, tmp_path, 10)
    before = served(remote, "catalog.csv")
    assert publish_to(remote, tmp_path, 7, "NEW") == ("refused", ["gate.item_drop"])
    assert served(remote, "catalog.csv") == before and consistent(remote)["items"] == 10
    assert publish_to(remote, tmp_path, 10) == ("unchanged", ["publish.unchanged"])
    assert publish_to(remote, tmp_path, 7, "NEW", accept_drop=True)[0] == "published"
    assert consistent(remote)["items"] == 7


def test_old_versions_are_pruned_at_the_destination(remote: str, tmp_path: Path) -> None:
    for n in (10, 11, 12, 13):
        publish_to(remote, tmp_path, n, keep=2)
    versions = {key.split("/")[1] for key in listed(remote) if key.startswith("published/")}
    assert len(versions) == 2 and consistent(remote)["sha256"][:12] in versions


# A run killed just before the n-th call to the store while it places a version: 0 the version's catalog,
# 1 its manifest, 2 the stable catalog's switch, 3 the stable manifest's.
KILLED_BEFORE = """
import os, signal, sys
from pathlib import Path
from feedcheck.findings import FindingLog
from feedcheck.publish.atomic import publish_catalog
from feedcheck.publish.destinations.remote import RemoteDestination
from feedcheck.settings import PublishOptions
from tests.test_publish import candidate, items, spool_of

url, work, step = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
placing = RemoteDestination.place

class Dying:
    def __init__(self, store):
        self.store, self.calls = store, 0
    def __getattr__(self, name):
        return getattr(self.store, name)
    def _step(self, name, *args):
        if self.calls == step:
            os.kill(os.getpid(), signal.SIGKILL)
        self.calls += 1
        return getattr(self.store, name)(*args)
    def upload(self, *args):
        return self._step("upload", *args)
    def replace(self, *args):
        return self._step("replace", *args)

def place(self, *args):
    self.store = Dying(self.store)
    return placing(self, *args)

RemoteDestination.place = place
publish_catalog(candidate(12), spool_of(items(12, "NEW"), work), url, PublishOptions(), FindingLog(), work=work)
"""


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_a_run_killed_at_each_step_leaves_a_complete_catalog_and_the_next_run_repairs(
        remote: str, tmp_path: Path, step: int) -> None:
    publish_to(remote, tmp_path, 10)
    old = served(remote, "catalog.csv")
    killed = subprocess.run([sys.executable, "-c", KILLED_BEFORE, remote, str(tmp_path / "work"), str(step)],
                            cwd=ROOT, env=os.environ, capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()
    fetched = served(remote, "catalog.csv")
    assert fetched == old if step < 3 else fetched != old  # the old catalog, or the new one, complete
    assert json.loads(served(remote, "manifest.json") or b"")["items"] == 10  # the stable manifest is replaced last
    outcome, codes = publish_to(remote, tmp_path, 12, "NEW")
    assert (outcome, codes) == (("unchanged", ["publish.repaired", "publish.unchanged"]) if step == 3
                                else ("published", ["publish.published"]))
    assert consistent(remote)["items"] == 12 and served(remote, "catalog.csv") != old
    assert not [key for key in listed(remote) if ".feedcheck-" in key]


def through_proxy(url: str, proxy: CuttingProxy, monkeypatch: pytest.MonkeyPatch,
                  request: pytest.FixtureRequest) -> str:
    """The same destination, reached through ``proxy``."""
    if url.startswith("s3://"):
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
        return url
    server: Sshd = request.getfixturevalue("sftp")
    server.trust(proxy.port)
    return url.replace(f":{server.port}/", f":{proxy.port}/")


def server_port(url: str, request: pytest.FixtureRequest) -> int:
    if url.startswith("s3://"):
        return int(urlsplit(os.environ["AWS_ENDPOINT_URL"]).port or 0)
    return request.getfixturevalue("sftp").port


def test_a_connection_dropped_mid_upload_keeps_the_last_good_catalog(
        remote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    publish_to(remote, tmp_path, 10)
    old = served(remote, "catalog.csv")
    proxy = CuttingProxy(server_port(remote, request), budget=60_000)  # the new catalog is about 300 kB
    try:
        with monkeypatch.context() as scoped:
            outcome, codes = publish_to(through_proxy(remote, proxy, scoped, request), tmp_path, 4000, "NEW")
    finally:
        proxy.close()
    assert (outcome, codes) == ("refused", ["publish.failed"])
    assert served(remote, "catalog.csv") == old and consistent(remote)["items"] == 10
    assert publish_to(remote, tmp_path, 4000, "NEW")[0] == "published"
    assert consistent(remote)["items"] == 4000
    assert not [key for key in listed(remote) if ".feedcheck-" in key]


def failed_publish(url: str, tmp_path: Path) -> str:
    """The message of a publish that fails (the tests check afterwards that the destination is as it was)."""
    log = FindingLog()
    result = publish(candidate(12), spool_of(items(12, "NEW"), tmp_path), url, PublishOptions(), log,
                     work=tmp_path / "work")
    assert result.outcome == "refused" and [f.code for f in log] == ["publish.failed"]
    return next(iter(log)).message


def test_s3_credentials_that_are_wrong_or_may_only_read(s3_guarded: str, s3_iam: S3Keys, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = s3_guarded + "feeds/shop/"
    publish_to(url, tmp_path, 10)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_iam.reader[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_iam.reader[1])
    message = failed_publish(url, tmp_path)
    assert "Access Denied" in message and url in message and s3_iam.reader[1] not in message
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_iam.writer[0])
    with monkeypatch.context() as scoped:  # the check reads as the writer; only the publish has the wrong key
        scoped.setenv("AWS_SECRET_ACCESS_KEY", s3_iam.writer[1])
        consistent(url)
    message = failed_publish(url, tmp_path)
    assert "AWS_SECRET_ACCESS_KEY" in message and "not-the-secret" not in message
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_iam.writer[1])
    assert consistent(url)["items"] == 10


def test_sftp_keys_and_host_keys_that_are_wrong_or_may_only_read(sftp: Sshd, tmp_path: Path) -> None:
    url = sftp.url(tmp_path / "served")
    publish_to(url, tmp_path, 10)
    sftp.use_key("reader")
    assert "Permission denied" in failed_publish(url, tmp_path)
    sftp.use_key("stranger")
    assert "refused the SSH key" in failed_publish(url, tmp_path)
    sftp.use_key("writer")
    (sftp.home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{sftp.port} {sftp.host_key[:-8]}AAAAAAA=\n")
    assert "not the one in ~/.ssh/known_hosts" in failed_publish(url, tmp_path)
    (sftp.home / ".ssh" / "known_hosts").write_text("")
    assert "not in ~/.ssh/known_hosts" in failed_publish(url, tmp_path)
    assert consistent(url)["items"] == 10


RACER = """
import sys
from pathlib import Path
from feedcheck.findings import FindingLog
from feedcheck.publish.atomic import publish_catalog
from feedcheck.settings import PublishOptions
from tests.test_publish import candidate, items, spool_of

url, work, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
spool = Path(sys.argv[2] + f"-spool-{n}")
spool.mkdir()
result = publish_catalog(candidate(n), spool_of(items(n, f"RACE{n}"), spool), url, PublishOptions(), FindingLog(),
                         work=work)
print(result.outcome)
"""


def test_two_runs_racing_on_one_destination_take_turns(remote: str, tmp_path: Path) -> None:
    racers = [subprocess.Popen([sys.executable, "-c", RACER, remote, str(tmp_path / "work"), str(n)], cwd=ROOT,
                               env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in (20, 21)]
    outcomes = [racer.communicate(timeout=120) for racer in racers]
    assert [out.decode().strip() for out, _ in outcomes] == ["published", "published"], outcomes
    assert consistent(remote)["items"] in (20, 21)
    assert len({key.split("/")[1] for key in listed(remote) if key.startswith("published/")}) == 2
    assert not [key for key in listed(remote) if ".feedcheck-" in key]


def test_one_run_of_the_feeds_file_publishes_to_a_folder_s3_and_sftp(s3: str, sftp: Sshd, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f"""
[defaults]
out = "out"
channel = "tiktok"

[[feed]]
name = "local"
source = "{FEEDS / 'tiktok_clean.csv'}"

[[feed]]
name = "bucket"
source = "{FEEDS / 'tiktok_clean.csv'}"
out = "{s3}feeds/bucket/"

[[feed]]
name = "server"
source = "{FEEDS / 'tiktok_clean.csv'}"
out = "{sftp.url(tmp_path / 'served')}"
work = "state/server"
""")
    for attempt in ("first", "second"):
        done = run("run", "--config", str(feeds))
        assert done.returncode == 0, done.stdout + done.stderr
    local = (tmp_path / "out" / "local" / "catalog.csv").read_bytes()
    assert served(f"{s3}feeds/bucket/", "catalog.csv") == local
    assert served(sftp.url(tmp_path / "served"), "catalog.csv") == local
    reports = [tmp_path / "out" / "local", tmp_path / "out" / "bucket", tmp_path / "state" / "server"]
    summaries = [json.loads((folder / "report.json").read_text()) for folder in reports]
    assert [summary["status"] for summary in summaries] == ["unchanged"] * 3  # the same bytes: the reports stand
    published = [summary["publish"] for summary in summaries]
    assert [p["current"]["sha256"] for p in published] == [hashlib.sha256(local).hexdigest()] * 3
    assert not (tmp_path / "out" / "bucket" / "catalog.csv").exists()
    fleet = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [(f["feed"], f["status"], f["destination"]) for f in fleet["feeds"]] == [
        ("bucket", "unchanged", f"{s3}feeds/bucket/"), ("local", "unchanged", str(tmp_path / "out" / "local")),
        ("server", "unchanged", sftp.url(tmp_path / "served"))]
    shot = screenshot(tmp_path / "out" / "index.html", tmp_path / "fleet.png")
    assert shot.stat().st_size > 20_000


def test_an_sftp_server_without_posix_rename_gets_the_safest_order_and_a_warning(
        sftp_without_posix_rename: Sshd, tmp_path: Path) -> None:
    url = sftp_without_posix_rename.url(tmp_path / "served")
    assert publish_to(url, tmp_path, 10) == ("published", ["publish.published"])
    outcome, codes = publish_to(url, tmp_path, 11, "NEW")
    assert (outcome, codes) == ("published", ["publish.no_atomic_rename", "publish.published"])
    assert consistent(url)["items"] == 11
    assert not [key for key in listed(url) if ".feedcheck-" in key]


def test_a_catalog_left_aside_by_a_killed_run_is_put_back(sftp_without_posix_rename: Sshd, tmp_path: Path) -> None:
    url = sftp_without_posix_rename.url(tmp_path / "served")
    publish_to(url, tmp_path, 10)
    served_at = tmp_path / "served"
    (served_at / "catalog.csv").rename(served_at / ".feedcheck-old-0f1e2d-catalog.csv")  # killed between renames
    assert publish_to(url, tmp_path, 10) == ("unchanged", ["publish.unchanged"])
    assert consistent(url)["items"] == 10 and not [key for key in listed(url) if ".feedcheck-" in key]


def test_a_stable_catalog_deleted_at_the_destination_is_published_again(remote: str, tmp_path: Path) -> None:
    publish_to(remote, tmp_path, 10)
    parts = urlsplit(remote)
    if parts.scheme == "s3":
        s3_client().delete_object(Bucket=parts.netloc, Key=parts.path.strip("/") + "/catalog.csv")
    else:
        (Path(parts.path) / "catalog.csv").unlink()
    assert publish_to(remote, tmp_path, 10) == ("published", ["publish.layout", "publish.published"])
    assert consistent(remote)["items"] == 10


def test_reports_are_published_beside_the_catalog_when_asked(remote: str, tmp_path: Path) -> None:
    done = run("check", str(FEEDS / "tiktok_clean.csv"), "--out", remote, "--work", str(tmp_path / "work"),
               "--publish-reports")
    assert done.returncode == 0, done.stderr
    local = tmp_path / "work"
    assert {key for key in listed(remote) if key.startswith("reports/")} == {
        "reports/findings.csv", "reports/report.html", "reports/report.json", "reports/report.md"}
    assert served(remote, "reports/report.json") == (local / "report.json").read_bytes()
    assert served(remote, "catalog.csv") == served(remote, f"published/{consistent(remote)['sha256'][:12]}/catalog.csv")


def test_reports_that_cannot_be_published_say_so_in_the_local_reports(
        s3_guarded: str, s3_iam: S3Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = s3_guarded + "feeds/shop/"
    args = ("check", str(FEEDS / "tiktok_clean.csv"), "--out", url, "--work", str(tmp_path / "work"),
            "--publish-reports")
    assert run(*args).returncode == 0
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_iam.reader[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_iam.reader[1])
    again = run(*args, "--force")  # read again, the same catalog: nothing to write but the reports, which this
    # key may not (without --force, the same bytes are unchanged, and an unchanged run publishes nothing)
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "work" / "report.json").read_text())
    assert report["publish"]["outcome"] == "unchanged"
    assert report["findings"]["by_code"]["publish.reports_failed"] == {"count": 1, "severity": "warning"}
    assert "publish.reports_failed" in (tmp_path / "work" / "report.html").read_text()


def test_a_publish_whose_manifest_cannot_be_replaced_says_the_catalog_is_live(
        remote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_to(remote, tmp_path, 10)
    placing = RemoteDestination.place

    def lost_before_the_manifest(self: RemoteDestination, *args: object) -> None:
        replace = self.store.replace
        calls = []

        def failing(*call: object) -> None:  # the connection lost at the last step, the stable manifest's
            calls.append(call)
            if len(calls) == 2:
                raise DestinationError("ConnectionResetError: the connection was lost.")
            replace(*call)

        monkeypatch.setattr(self.store, "replace", failing)
        placing(self, *args)

    with monkeypatch.context() as scoped:
        scoped.setattr(RemoteDestination, "place", lost_before_the_manifest)
        assert publish_to(remote, tmp_path, 12, "NEW") == ("published", ["publish.incomplete"])
    assert json.loads(served(remote, "manifest.json") or b"")["items"] == 10  # behind the live catalog
    assert publish_to(remote, tmp_path, 12, "NEW") == ("unchanged", ["publish.repaired", "publish.unchanged"])
    assert consistent(remote)["items"] == 12
