/* Back from Stripe's hosted pages: the mirror lags Stripe by a second or two, so poll the
   summary until its fingerprint changes (or ~15 s pass), then show the page again.
   The page's #freshness element carries data-fingerprint, data-summary-url and data-page-url. */
(function () {
  "use strict";
  var notice = document.getElementById("freshness");
  if (!notice) { return; }
  var state = document.getElementById("freshness-state");
  var initial = notice.getAttribute("data-fingerprint");
  var summaryUrl = notice.getAttribute("data-summary-url");
  var pageUrl = notice.getAttribute("data-page-url");
  var started = Date.now();
  function again() { if (Date.now() - started < 15000) { setTimeout(poll, 1500); return true; } return false; }
  function poll() {
    fetch(summaryUrl, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.fingerprint !== initial) { window.location.replace(pageUrl); return; }
        if (!again()) { state.textContent = "If something still looks out of date, reload the page in a moment."; }
      })
      .catch(again);
  }
  setTimeout(poll, 1000);
})();
