/*
 * Live events for the admin pages (docs/events.md).
 *
 * Opens the Server-Sent Events stream named by this script tag's data-events-url (the stream
 * process when STREAM_PUBLIC_URL is set, else the page's own origin) with the staff session
 * cookie, and re-dispatches every message as
 *   document.dispatchEvent(new CustomEvent("autoindex:event", {detail: {type, id, data}}))
 * where data is the parsed JSON payload. EventSource reconnects by itself (after the server's
 * retry: hint) and sends Last-Event-ID, so missed events are replayed. Pages showing an active
 * job also poll their own fragment URL: the stream is an accelerator, never the only path.
 *
 * The connection state is on <html data-live-events="connecting|open|closed"> and
 * window.autoindexLiveEvents ({source, url}) for pages and tests.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var url = script && script.dataset ? script.dataset.eventsUrl : "";
  if (!url || typeof window.EventSource !== "function") {
    return;
  }
  var EVENT_TYPES = ["refresh.progress", "index_run.progress", "index_run.published"];
  var root = document.documentElement;
  var crossOrigin = new URL(url, window.location.href).origin !== window.location.origin;
  var source = new EventSource(url, { withCredentials: crossOrigin });
  window.autoindexLiveEvents = { source: source, url: url };
  root.setAttribute("data-live-events", "connecting");

  function redispatch(message) {
    var data = null;
    try {
      data = JSON.parse(message.data);
    } catch (error) {
      return; // not ours
    }
    document.dispatchEvent(
      new CustomEvent("autoindex:event", {
        detail: { type: message.type, id: message.lastEventId, data: data },
      })
    );
  }

  EVENT_TYPES.forEach(function (type) {
    source.addEventListener(type, redispatch);
  });
  source.addEventListener("open", function () {
    root.setAttribute("data-live-events", "open");
  });
  source.addEventListener("error", function () {
    // CONNECTING: the browser retries (Last-Event-ID); CLOSED: refused (e.g. 401), give up.
    root.setAttribute(
      "data-live-events",
      source.readyState === EventSource.CLOSED ? "closed" : "connecting"
    );
  });
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
