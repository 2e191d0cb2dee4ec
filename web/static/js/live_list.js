/* A list that refreshes itself (the department inbox, the dispatcher's desk): the
 * user's socket rooms on "/office" hear every change to a ticket they may see (a unit
 * only its own); the list is then fetched again from the server, which alone decides
 * what the user may see. After a reconnect it asks for the events it missed
 * (`events.since`) and refreshes if there were any.
 *
 * <script src=live_list.js data-fragment="URL of the list alone" data-target="id of
 * the element it replaces" data-status="id of the element saying whether it is live"
 * data-events="the pushes that refresh it (default ticket.updated)"
 * data-msg-live=... data-msg-offline=...>
 *
 * Elements with data-since (ISO 8601) show the time waited since, counting up.
 * Each new event is also dispatched on the document as "live:<name>". */
(function () {
  "use strict";

  var script = document.currentScript;
  var rows = script && document.getElementById(script.dataset.target);
  var live = script && document.getElementById(script.dataset.status);
  if (!script || !rows || !live || typeof window.io !== "function") {
    return;
  }
  var fragmentUrl = script.dataset.fragment;
  // The newest event when the page was rendered: what came after it is asked for on
  // every connect. Ids are remembered one by one: an event whose transaction committed
  // later may carry a lower id than one already seen.
  var lastId = parseInt(script.dataset.lastEventId || "0", 10) || 0;
  var seen = {};
  var pending = null;
  var stale = false;

  // One fetch at a time. A change heard while one is under way may have committed
  // after the server read the list: the list is then fetched once more when it returns.
  function refresh() {
    if (pending) {
      stale = true;
      return;
    }
    stale = false;
    pending = fetch(fragmentUrl, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          rows.innerHTML = html;
        }
      })
      .catch(function () {})
      .then(function () {
        pending = null;
        if (stale) {
          refresh();
        }
      });
  }

  function saw(event) {
    if (!event || typeof event.event_id !== "number" || seen[event.event_id]) {
      return false;
    }
    seen[event.event_id] = true;
    lastId = Math.max(lastId, event.event_id);
    return true;
  }

  // Other scripts on the page hear each new event once, live or replayed, as a
  // "live:<name>" DOM event (the console opens the screen pop on "live:call.answered").
  function announce(name, event) {
    document.dispatchEvent(new CustomEvent("live:" + name, { detail: event }));
  }

  var socket = window.io("/office", { transports: ["websocket", "polling"] });
  window.hotlineLive = socket; // for the page's other scripts (and to test a reconnect)
  socket.on("connect", function () {
    live.textContent = script.dataset.msgLive;
    // Everything since the page was rendered, or since the last event before a
    // disconnect (a little before it: late commits may carry lower ids).
    socket.emit("events.since", { since: Math.max(0, lastId - 50) }, function (ack) {
      var missed = ack && ack.ok ? ack.events.filter(saw) : [];
      missed.forEach(function (event) {
        announce(event.name, event);
      });
      if (missed.length) {
        refresh();
      }
    });
  });
  socket.on("disconnect", function () {
    live.textContent = script.dataset.msgOffline;
  });
  (script.dataset.events || "ticket.updated").split(/\s+/).forEach(function (name) {
    socket.on(name, function (event) {
      if (saw(event)) {
        announce(name, event);
        refresh();
      }
    });
  });

  // Waiting times ([data-since], ISO 8601) count up every second.
  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (el) {
      var since = Date.parse(el.dataset.since);
      if (isNaN(since)) {
        return;
      }
      var seconds = Math.max(0, Math.floor((now - since) / 1000));
      var minutes = Math.floor(seconds / 60);
      var text = minutes >= 60
        ? Math.floor(minutes / 60) + ":" + ("0" + (minutes % 60)).slice(-2) + ":" + ("0" + (seconds % 60)).slice(-2)
        : minutes + ":" + ("0" + (seconds % 60)).slice(-2);
      el.textContent = text;
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();
