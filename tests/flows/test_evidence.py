"""固证: the pages of an incident's posts are fetched once from a real local server and kept as
WARC records with their SHA-256 and fetch time; a deleted page (404) is kept as what the site
answered and tried again at most 3 times; `jingyu evidence export` writes the WARCs, a
manifest and an HTML index in which hostile titles are inert."""
from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime, timedelta, timezone

from warcio.archiveiterator import ArchiveIterator

from alerts.detection.records import Alert
from alerts.incidents.incident import IncidentOpening, take_alert
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from collectors.replay import FeedReplayServer, Route
from flows.cli import main
from flows.evidence import keep_evidence
from transforms.records import ScoredPost
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

T0 = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)
PAGE = "<html><body><p>辅警拦车执法，视频在网上流传</p></body></html>".encode()
HOSTILE = "<script>alert(1)</script>辅警"


def scored(n: int, url: str, title: str) -> ScoredPost:
    raw = RawPost(source_id="forum", external_id=f"p{n}", url=url, title=title, body="正文",
                  author="网友", published_at=T0, fetched_at=T0)
    return ScoredPost(raw=raw, text=f"{title} 正文 {n}", content_hash=f"hash-{n}", keywords=(),
                      police_related=True, police_terms=(), sentiment=0.2, polarity="negative",
                      topics=(), rule_hits=(), high_risk=True)


def test_pages_kept_once_and_exported(sqlite_url, tmp_path, capsys) -> None:
    with FeedReplayServer({"/thread/1": Route(PAGE, "text/html; charset=utf-8"),
                           "/thread/2": Route(b"deleted", "text/html", status=404)}) as site:
        wh = Warehouse(sqlite_url)
        wh.sync_sources([SourceConfig(id="forum", name="江城论坛", kind="feed", url=site.url("/"))])
        posts = [scored(1, site.url("/thread/1"), HOSTILE), scored(2, site.url("/thread/2"), "删帖")]
        run = wh.start_run(T0)
        wh.store_fetch(run, FetchResult("forum", FETCH_OK, SourceCursor(),
                                        posts=tuple(p.raw for p in posts)), posts, T0)
        opening = IncidentOpening(
            fingerprint="story:x", kind="sensitive", level=2, title="辅警执法视频",
            jurisdiction=None, topics=(), terms=(), content_hashes=("hash-1", "hash-2"),
            sensitive=True, detected_at=T0, track_units={}, notified=False, detail={})
        alert = Alert(fingerprint="story:x", kind="sensitive", level=2, title="辅警执法视频",
                      reason="test", evidence=(), jurisdiction=None, detected_at=T0)
        stored, _, _ = IncidentStore(wh).record(
            alert, lambda _a, _v: [],
            lambda s, first, current: take_alert(current, s.alert_id, opening, first, True))
        incident = stored.alert_id
        folder = tmp_path / "evidence"

        first = keep_evidence(wh, T0 + timedelta(minutes=5), folder)
        assert first == {"kept": 1, "failed": 1}
        again = keep_evidence(wh, T0 + timedelta(minutes=10), folder)
        assert again == {"kept": 0, "failed": 1}           # only the deleted one, retried
        keep_evidence(wh, T0 + timedelta(minutes=15), folder)
        assert keep_evidence(wh, T0 + timedelta(minutes=20), folder) == {"kept": 0, "failed": 0}
        assert site.hits("/thread/1") == 1 and site.hits("/thread/2") == 3

    warcs = sorted(folder.rglob("*.warc.gz"))
    assert len(warcs) == 4                      # the page once, the 404 answer three times
    kept = next(w for w in warcs if "post-1-" in w.name)
    with kept.open("rb") as stream:
        records = list((r.rec_type, r.rec_headers.get_header("WARC-Payload-Digest"),
                        r.content_stream().read()) for r in ArchiveIterator(stream))
    assert records[0][0] == "response" and records[0][2] == PAGE
    assert records[0][1] == "sha256:" + hashlib.sha256(PAGE).hexdigest()
    assert records[1][0] == "metadata" and b"incident-id" in records[1][2]

    bundle = tmp_path / "bundle.zip"
    assert main(["evidence", "export", str(incident), "-o", str(bundle), "--folder",
                 str(folder), "--database", sqlite_url]) == 0
    assert "2 posts, 2 pages kept as WARC" in capsys.readouterr().out
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        index = archive.read("index.html").decode()
    assert "manifest.json" in names and "index.html" in names
    by_post = {entry["url"].rsplit("/", 1)[-1]: entry for entry in manifest["posts"]}
    assert by_post["1"]["status"] == "kept"
    assert by_post["1"]["sha256"] == hashlib.sha256(PAGE).hexdigest()
    assert by_post["1"]["fetched_at"].startswith("2026-12-04T01:05")
    assert by_post["2"]["status"] == "failed" and by_post["2"]["http_status"] == 404
    assert all(entry["warc"] in names for entry in manifest["posts"])
    assert "<script>alert(1)</script>" not in index and "&lt;script&gt;" in index
    assert main(["evidence", "export", "999", "-o", str(bundle), "--database",
                 sqlite_url]) == 1
    wh.close()


def test_keeping_is_bounded_in_count_time_and_size(sqlite_url, tmp_path) -> None:
    """A cycle fetches at most `limit` pages, starts none after its time budget, and a page
    over the size cap is refused (said in the evidence row), never written."""
    from dataclasses import replace

    from flows.evidence import EVIDENCE_POLICY
    from warehouse.evidence import export_bundle

    routes = {"/slow": Route(PAGE, "text/html; charset=utf-8", delay_s=1.0),
              "/big": Route(b"<html>" + b"x" * 300_000 + b"</html>", "text/html",
                            delay_s=1.0),
              "/ok": Route(PAGE, "text/html; charset=utf-8")}
    with FeedReplayServer(routes) as site:
        wh = Warehouse(sqlite_url)
        wh.sync_sources([SourceConfig(id="forum", name="江城论坛", kind="feed", url=site.url("/"))])
        posts = [scored(n, site.url(path), f"帖子{n}")
                 for n, path in enumerate(("/slow", "/big", "/ok"), start=1)]
        run = wh.start_run(T0)
        wh.store_fetch(run, FetchResult("forum", FETCH_OK, SourceCursor(),
                                        posts=tuple(p.raw for p in posts)), posts, T0)
        opening = IncidentOpening(
            fingerprint="story:y", kind="sensitive", level=2, title="辅警执法视频",
            jurisdiction=None, topics=(), terms=(), content_hashes=("hash-1", "hash-2", "hash-3"),
            sensitive=True, detected_at=T0, track_units={}, notified=False, detail={})
        alert = Alert(fingerprint="story:y", kind="sensitive", level=2, title="辅警执法视频",
                      reason="test", evidence=(), jurisdiction=None, detected_at=T0)
        stored, _, _ = IncidentStore(wh).record(
            alert, lambda _a, _v: [],
            lambda s, first, current: take_alert(current, s.alert_id, opening, first, True))
        folder = tmp_path / "evidence"
        small = replace(EVIDENCE_POLICY, max_bytes=100_000)

        # One page per cycle: the slow one, and nothing else asked for.
        assert keep_evidence(wh, T0 + timedelta(minutes=5), folder, limit=1,
                             policy=small) == {"kept": 1, "failed": 0}
        assert (site.hits("/slow"), site.hits("/big"), site.hits("/ok")) == (1, 0, 0)
        # A 0.5 s budget: the big page (1 s to answer) is the last one started this cycle.
        assert keep_evidence(wh, T0 + timedelta(minutes=10), folder, budget_s=0.5,
                             policy=small) == {"kept": 0, "failed": 1}
        assert (site.hits("/big"), site.hits("/ok")) == (1, 0)
        assert keep_evidence(wh, T0 + timedelta(minutes=15), folder,
                             policy=small)["kept"] == 1
        entries = export_bundle(wh, stored.alert_id, folder, tmp_path / "b.zip",
                                T0 + timedelta(minutes=20))
    big = next(e for e in entries if e.url.endswith("/big"))
    assert big.status == "failed" and big.warc is None and big.sha256 is None
    assert big.error and "100000" in big.error.replace(",", ""), big.error
    assert not any("post-2-" in w.name for w in folder.rglob("*.warc.gz"))
    wh.close()
