"""检索: every post collected, by words, time, jurisdiction, topic and source (the same
warehouse.search as `jingyu search`); hits link to their incidents."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from console.accounts import sees
from console.auth import require
from console.views import render
from jingyu.display import clean_text
from jingyu.timeutil import parse_local
from warehouse.search import SearchError, SearchQuery, search

router = APIRouter()
PAGE = 50


def highlight(text: str, terms: tuple[str, ...]) -> Markup:
    """The snippet escaped, its search terms in <mark> (escaping first, marking the words of
    the escaped text would break entities); cleaned first (jingyu.display), as every value a
    console page prints."""
    text = clean_text(text)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)),
                         re.IGNORECASE)
    pieces, last = [], 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[last:match.start()]))
        pieces.append(Markup("<mark>%s</mark>") % match.group(0))
        last = match.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


def _time(value: str) -> datetime | None:
    return parse_local(value) if value.strip() else None


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = "", since: str = "", until: str = "",
                jurisdiction: str = "", topic: str = "", source: str = "",
                order: str = "time", page: int = 1) -> Response:
    account = require(request, "search")
    console = request.app.state.console
    places = {j_id: j.name for j_id, j in console.places.jurisdictions.items()
              if sees(account, j_id)}
    form = {"q": q, "since": since, "until": until, "jurisdiction": jurisdiction,
            "topic": topic, "source": source, "order": order}
    context = {"form": form, "places": places, "topics": console.labels.topics,
               "sources": console.labels.with_sources(console.warehouse.engine).sources,
               "result": None, "error": "", "page": max(page, 1), "highlight": highlight,
               "incidents": {}, "prev_url": "", "next_url": ""}
    if not q.strip():
        return render(request, "search.html", **context)
    # An account with a jurisdiction searches within it, whatever the form says.
    scope = jurisdiction or account.jurisdiction or None
    if scope and not sees(account, scope):
        scope = account.jurisdiction
    try:
        query = SearchQuery(text=q, since=_time(since), until=_time(until), jurisdiction=scope,
                            topic=topic or None, source=source or None,
                            order=order if order in ("time", "relevance") else "time",
                            limit=PAGE, offset=(max(page, 1) - 1) * PAGE)
        result = search(console.warehouse.engine, query)
    except (SearchError, ValueError) as exc:
        context["error"] = str(exc)
        return render(request, "search.html", status_code=400, **context)
    ids = sorted({i for hit in result.hits for i in hit.incident_ids})
    found = console.incidents.by_ids(ids) if ids else {}
    context["incidents"] = {i: s for i, s in found.items() if sees(account, s.jurisdiction)}
    context["result"] = result
    here = max(page, 1)
    context["prev_url"] = f"/search?{urlencode({**form, 'page': here - 1})}" if here > 1 else ""
    context["next_url"] = (f"/search?{urlencode({**form, 'page': here + 1})}"
                           if result.total > here * PAGE else "")
    context["place"] = console.jurisdiction_name
    return render(request, "search.html", **context)
