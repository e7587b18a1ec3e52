"""固证 wiring: after each cycle keep the pages of new incident posts (bounded in count and
time, never holding the cycle up for long), and `jingyu evidence export INCIDENT -o FILE`.

Cycles keep pages when $JINGYU_EVIDENCE_DIR names the folder for them (set it in the
service's environment); without it nothing is fetched, since a WARC of every incident post is
data the operator must decide to hold."""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from collectors.evidence import capture
from collectors.http import HttpPolicy, PoliteClient
from jingyu.timeutil import utcnow

DEFAULT_FOLDER = "data/evidence"
PER_CYCLE = 10              # pages fetched per cycle at most
BUDGET_S = 30.0             # and no new fetch after this long
EVIDENCE_POLICY = HttpPolicy(deadline_s=20.0, retries=0, max_bytes=10 * 1024 * 1024)


def evidence_folder(folder: str | Path | None = None) -> Path:
    return Path(folder or os.environ.get("JINGYU_EVIDENCE_DIR") or DEFAULT_FOLDER)


def keep_evidence(warehouse, now: datetime, folder: str | Path | None = None,
                  limit: int = PER_CYCLE, budget_s: float = BUDGET_S,
                  policy: HttpPolicy = EVIDENCE_POLICY) -> dict[str, int]:
    """Fetch and keep the pages of incident posts not kept yet; counts of kept and failed.
    Without `folder` and $JINGYU_EVIDENCE_DIR nothing is done."""
    from warehouse.evidence import record, wanted

    if folder is None and not os.environ.get("JINGYU_EVIDENCE_DIR"):
        return {"kept": 0, "failed": 0}
    target = evidence_folder(folder)
    started = time.monotonic()
    report = {"kept": 0, "failed": 0}
    todo = wanted(warehouse, limit)
    if not todo:
        return report
    with PoliteClient(policy) as client:
        for item in todo:
            if time.monotonic() - started > budget_s:
                break
            result = capture(client, item.post_id, item.url, target, item.incident_id,
                             now or utcnow())
            record(warehouse, item.incident_id, result)
            report[result.status] += 1
    return report


def add_parser(p: argparse.ArgumentParser, with_database) -> None:
    actions = p.add_subparsers(metavar="ACTION")
    export = actions.add_parser("export", help="an incident's evidence bundle: the WARC "
                                               "files, a manifest of hashes and times, an "
                                               "HTML index")
    export.set_defaults(handler=_export)
    export.add_argument("incident", type=int, help="the incident's number")
    export.add_argument("-o", "--output", required=True, help="the .zip file to write")
    export.add_argument("--folder", help="where the WARC files are kept (default "
                                         "$JINGYU_EVIDENCE_DIR or data/evidence)")
    with_database(export)


def _export(args: argparse.Namespace) -> int:
    from warehouse.evidence import export_bundle
    from warehouse.incidents import NoSuchIncident
    from warehouse.store import Warehouse

    try:
        entries = export_bundle(Warehouse(args.database), args.incident,
                                evidence_folder(args.folder), Path(args.output), utcnow())
    except NoSuchIncident:
        print(f"jingyu: no incident {args.incident} (see jingyu alerts)", file=sys.stderr)
        return 1
    kept = sum(1 for e in entries if e.warc)
    print(f"{args.output}: {len(entries)} posts, {kept} pages kept as WARC "
          f"({len(entries) - kept} without: see index.html)")
    return 0
