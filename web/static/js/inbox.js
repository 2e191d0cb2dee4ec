/* The department inbox refreshes itself: the unit's socket room ("/office",
 * `unit:<code>`) hears every change to a ticket the unit holds; the rows are then
 * fetched again from the server (which alone decides what the unit may see). After a
 * reconnect it asks for the events it missed (`events.since`) and refreshes if any. */
(function () {
  "use strict";

  var script = document.currentScript;
  var rows = document.getElementById("inbox-rows");
  var summary = document.getElementById("inbox-summary");
  var live = document.getElementById("inbox-live");
  if (!script || !rows || typeof window.io !== "function") {
    return;
  }
  var fragmentUrl = script.dataset.fragment;
  var lastId = 0;
  var pending = null;

  function refresh() {
    if (pending) {
      return;
    }
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
      });
  }

  function saw(event) {
    if (event && typeof event.event_id === "number" && event.event_id > lastId) {
      lastId = event.event_id;
      return true;
    }
    return false;
  }

  var socket = window.io("/office", { transports: ["websocket", "polling"] });
  var connectedOnce = false;
  socket.on("connect", function () {
    live.textContent = summary.dataset.msgLive;
    if (connectedOnce) {
      socket.emit("events.since", { since: lastId }, function (ack) {
        var missed = ack && ack.ok ? ack.events.filter(saw) : [];
        if (missed.length) {
          refresh();
        }
      });
    }
    connectedOnce = true;
  });
  socket.on("disconnect", function () {
    live.textContent = summary.dataset.msgOffline;
  });
  socket.on("ticket.updated", function (event) {
    if (saw(event)) {
      refresh();
    }
  });
})();
