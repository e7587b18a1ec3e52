"""账号: the admin's page of console accounts — the same operations as `jingyu users`."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.accounts import AccountError, Role, add_account, hash_password
from console.auth import check_csrf, require
from console.views import render
from jingyu.timeutil import utcnow
from warehouse.accounts import AccountExists, NoSuchAccount

router = APIRouter()


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request) -> Response:
    require(request, "accounts")
    console = request.app.state.console
    roster = {p.name for p in console.desk.roster.people.values()}
    return render(request, "accounts.html", accounts=console.accounts.accounts(),
                  roles=list(Role), roster=roster, flash=request.session.pop("flash", None),
                  places={j_id: j.name for j_id, j in console.places.jurisdictions.items()},
                  place=console.jurisdiction_name)


@router.post("/accounts")
async def change(request: Request) -> Response:
    """add | disable | enable | password, one account at a time."""
    form = await request.form()
    check_csrf(request, form)
    me = require(request, "accounts")
    console = request.app.state.console
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    action, name = values.get("action", ""), values.get("name", "")
    now = utcnow()
    try:
        if action == "add":
            add_account(console.accounts, name, values.get("role", ""),
                        values.get("jurisdiction") or None, str(form.get("password", "")), now,
                        tuple(console.places.jurisdictions))
            done = f"已添加账号 {name}"
        elif action in ("disable", "enable"):
            if action == "disable" and name == me.name:
                raise AccountError("不能停用自己的账号")
            console.accounts.update(name, now, disabled=action == "disable")
            done = f"已{'停用' if action == 'disable' else '启用'} {name}"
        elif action == "password":
            console.accounts.update(name, now,
                                    password_hash=hash_password(str(form.get("password", ""))))
            done = f"已为 {name} 设置新密码"
        else:
            raise AccountError(f"unknown action {action!r}")
        console.known_accounts.forget()
        request.session["flash"] = {"ok": True, "text": done}
    except (AccountError, AccountExists, NoSuchAccount) as exc:
        request.session["flash"] = {"ok": False, "text": str(exc)}
    return RedirectResponse("/accounts", status_code=303)
