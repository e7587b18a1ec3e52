"""固证: fetch a post's page once and keep it as a WARC record (warcio) with its SHA-256 and
fetch time, so the evidence remains when the post is deleted. Knows HTTP and files, not SQL.

One WARC file per post: a `response` record (the HTTP status line, headers and body as
received) and a `metadata` record naming the post, the incident and the digest. Bounded: the
PoliteClient's size cap and deadline apply; a failure is returned, never raised.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from collectors.http import DownloadError, PoliteClient

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class EvidenceCapture:
    """What one capture attempt kept (or why it kept nothing)."""

    post_id: int
    url: str
    fetched_at: datetime                 # aware UTC
    status: str                          # "kept" | "failed"
    http_status: int | None = None
    sha256: str | None = None            # of the body as received (the page itself)
    warc_sha256: str | None = None       # of the WARC file (what the bundle ships)
    size: int = 0                        # body bytes
    path: str | None = None              # the WARC file, relative to the evidence folder
    error: str | None = None


def capture(client: PoliteClient, post_id: int, url: str, folder: Path, incident_id: int,
            now: datetime) -> EvidenceCapture:
    """GET `url` once and write `folder/<incident>/<post>-<time>.warc.gz`; never raises."""
    try:
        response = client.get(url)
    except DownloadError as exc:
        return EvidenceCapture(post_id, url, now, "failed", error=exc.reason)
    digest = hashlib.sha256(response.body).hexdigest()
    relative = Path(f"incident-{incident_id}") / \
        f"post-{post_id}-{now.strftime('%Y%m%dT%H%M%SZ')}.warc.gz"
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    written = _warc(url, response.status, response.headers, response.body, now, digest,
                    post_id, incident_id, response.url)
    partial = target.with_suffix(".part")
    partial.write_bytes(written)
    partial.replace(target)                 # a reader never sees half a WARC
    if response.status >= 400:
        return EvidenceCapture(post_id, url, now, "failed", response.status, digest,
                               hashlib.sha256(written).hexdigest(), len(response.body),
                               str(relative), f"HTTP {response.status} (deleted or blocked?); "
                                              "the answer is kept")
    return EvidenceCapture(post_id, url, now, "kept", response.status, digest,
                           hashlib.sha256(written).hexdigest(), len(response.body),
                           str(relative))


def _warc(url: str, status: int, headers: dict[str, str] | object, body: bytes, now: datetime,
          digest: str, post_id: int, incident_id: int, final_url: str) -> bytes:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    date = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    http_headers = StatusAndHeaders(f"{status} {_reason(status)}",
                                    [(name, str(value)) for name, value in
                                     dict(headers).items()  # type: ignore[call-overload]
                                     if name.lower() not in ("content-encoding",
                                                             "transfer-encoding")],
                                    protocol="HTTP/1.1")
    response = writer.create_warc_record(
        final_url, "response", payload=io.BytesIO(body), length=len(body),
        http_headers=http_headers,
        warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": f"sha256:{digest}"})
    writer.write_record(response)
    note = (f"post-id: {post_id}\nincident-id: {incident_id}\nrequested-url: {url}\n"
            f"payload-sha256: {digest}\nfetched-at: {date}\n").encode()
    metadata = writer.create_warc_record(
        final_url, "metadata", payload=io.BytesIO(note), length=len(note),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Date": date,
                           "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
    writer.write_record(metadata)
    return buffer.getvalue()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def safe_name(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-") or "x"
