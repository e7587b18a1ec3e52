// 值班台 refresh: every 3 s ask for the change stamp; when it moved (another officer acted,
// a new cycle opened an incident), fetch the board's body and swap it in. Every 30 s the
// body is fetched anyway so the countdowns stay current. A logged-out session goes to login.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  var head = board.querySelector("[data-stamp]");
  var stamp = head ? head.getAttribute("data-stamp") : "";
  var lastDraw = Date.now();
  var busy = false;

  function get(url) {
    return fetch(url, {credentials: "same-origin", cache: "no-store",
                       headers: {"X-Requested-With": "fetch"}}).then(function (r) {
      if (r.status === 401) {
        window.location.href = "/login?why=idle&next=" + encodeURIComponent(location.pathname);
        throw new Error("logged out");
      }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r;
    });
  }

  function redraw() {
    return get(board.getAttribute("data-fragment")).then(function (r) {
      return r.text();
    }).then(function (html) {
      board.innerHTML = html;
      var drawn = board.querySelector("[data-stamp]");
      if (drawn) { stamp = drawn.getAttribute("data-stamp"); }
      lastDraw = Date.now();
      board.classList.remove("stale");
    });
  }

  function tick() {
    if (busy) { return; }
    busy = true;
    get(board.getAttribute("data-stamp-url")).then(function (r) {
      return r.json();
    }).then(function (data) {
      if (data.stamp !== stamp || Date.now() - lastDraw > 30000) { return redraw(); }
      board.classList.remove("stale");
    }).catch(function () {
      board.classList.add("stale");       // shown as a red frame: the board may be out of date
    }).then(function () { busy = false; });
  }

  setInterval(tick, 3000);
})();
