/* Collision control on the ticket page: the page opens the ticket on "/office"
 * (`ticket.watch`) and shows who else has it open and who is editing
 * (`ticket.presence`). Starting to fill in any of the page's forms takes the short edit
 * lock (`ticket.lock`), renewed while typing and given back on leaving; when someone
 * else holds it, the forms are disabled and say who. The server refuses the others'
 * actions anyway (409): this only keeps people from typing in vain.
 *
 * <script src=ticket_presence.js data-reference=... data-msg-viewers="Also open by:"
 *  data-msg-editing="Being edited by {name}" data-msg-mine="You are editing"> */
(function () {
  "use strict";

  var script = document.currentScript;
  var box = document.getElementById("ticket-presence");
  if (!script || !box || typeof window.io !== "function") {
    return;
  }
  var reference = script.dataset.reference;
  var labels = script.dataset;
  // The chat reply box (data-no-lock) is a conversation, not an edit of the ticket.
  var forms = Array.prototype.slice.call(document.querySelectorAll("main form:not([data-no-lock])"));
  var me = null;
  var mine = false;
  var renewTimer = null;
  var recheckTimer = null;
  var socket = window.io("/office", { transports: ["websocket", "polling"] });

  function setDisabled(disabled) {
    forms.forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (element) {
        if (element.name !== "csrf_token") {
          element.disabled = disabled;
        }
      });
    });
  }

  function show(presence) {
    var others = presence.viewers.filter(function (v) {
      return !me || v.user_id !== me;
    });
    var text = others.length
      ? labels.msgViewers + " " + others.map(function (v) { return v.name; }).join("、")
      : "";
    var editor = presence.editor;
    mine = Boolean(editor && me && editor.user_id === me);
    if (editor && !mine) {
      text += (text ? " · " : "") + labels.msgEditing.replace("{name}", editor.name);
    } else if (mine) {
      text += (text ? " · " : "") + labels.msgMine;
    }
    box.textContent = text;
    box.dataset.editor = editor ? editor.name : "";
    setDisabled(Boolean(editor && !mine));
    // Locked out: a lock its screen stopped renewing lapses without a word, so look
    // again until the forms are free.
    if (editor && !mine && !recheckTimer) {
      recheckTimer = window.setInterval(watch, 10000);
    } else if ((!editor || mine) && recheckTimer) {
      window.clearInterval(recheckTimer);
      recheckTimer = null;
    }
  }

  function watch() {
    socket.emit("ticket.watch", { reference: reference }, function (ack) {
      if (ack && ack.ok) {
        me = ack.me;
        show(ack.presence);
      }
    });
  }

  function lock() {
    socket.emit("ticket.lock", { reference: reference }, function (ack) {
      if (ack && ack.ok) {
        me = ack.editor.user_id;
        mine = true;
        if (ack.presence) {
          show(ack.presence);
        }
      } else if (ack && ack.editor) {
        box.textContent = labels.msgEditing.replace("{name}", ack.editor.name);
        setDisabled(true);
        if (!recheckTimer) {
          recheckTimer = window.setInterval(watch, 10000);
        }
      }
    });
  }

  function typing() {
    if (renewTimer) {
      return;
    }
    lock();
    renewTimer = window.setTimeout(function () {
      renewTimer = null;
    }, 10000); // renew at most every 10 s while typing (the lock lasts 30 s)
  }

  forms.forEach(function (form) {
    form.addEventListener("focusin", typing);
    form.addEventListener("input", typing);
  });
  window.addEventListener("pagehide", function () {
    if (mine) {
      socket.emit("ticket.unlock", { reference: reference });
    }
  });

  socket.on("connect", watch);
  socket.on("ticket.presence", function (presence) {
    if (presence.reference === reference) {
      show(presence);
    }
  });
})();
