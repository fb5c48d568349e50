/* Live job state boxes of the admin (templates admin/market/_job_state.html).
 *
 * Every element with data-job-state-url re-reads that URL (an HTML fragment: the same box,
 * rendered by the server) every 2 s while its data-active is "1", and at once when the page's
 * event stream dispatches a matching "autoindex:event" (detail: {type, id, data}): a type
 * listed in data-event-types, for the run in data-event-run or the index in data-event-index.
 * Polling alone keeps the box current where the stream is not running.
 */
(function () {
  "use strict";
  var POLL_MS = 2000;

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-job-state-url]"));
  }

  function schedule(box) {
    window.clearTimeout(box.jobTimer);
    if (box.getAttribute("data-active") === "1") {
      box.jobTimer = window.setTimeout(function () { load(box); }, POLL_MS);
    }
  }

  function replace(box, html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var fresh = template.content.firstElementChild;
    if (!fresh) { return; }
    Array.prototype.slice.call(fresh.attributes).forEach(function (attribute) {
      box.setAttribute(attribute.name, attribute.value);
    });
    box.innerHTML = fresh.innerHTML;
    box.dispatchEvent(new CustomEvent("autoindex:job-state", {bubbles: true, detail: {state: box.getAttribute("data-state")}}));
  }

  function load(box) {
    if (box.jobLoading) { return; }
    box.jobLoading = true;
    window.clearTimeout(box.jobTimer);
    fetch(box.getAttribute("data-job-state-url"), {
      credentials: "same-origin",
      headers: {"Accept": "text/html", "X-Requested-With": "XMLHttpRequest"}
    }).then(function (response) {
      if (!response.ok) { throw new Error("job state: HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      replace(box, html);
    }).catch(function () {
      /* A failed read keeps the last state shown; the next poll tries again. */
    }).then(function () {
      box.jobLoading = false;
      schedule(box);
    });
  }

  function matches(box, detail) {
    var types = (box.getAttribute("data-event-types") || "").split(/\s+/);
    if (!detail || types.indexOf(detail.type) < 0) { return false; }
    var data = detail.data || {};
    var run = box.getAttribute("data-event-run");
    var index = box.getAttribute("data-event-index");
    if (index) { return data.index === index; }
    if (run) { return String(data.run_id) === run; }
    return true;
  }

  document.addEventListener("autoindex:event", function (event) {
    boxes().forEach(function (box) {
      if (matches(box, event.detail)) { load(box); }
    });
  });

  function start() { boxes().forEach(schedule); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
