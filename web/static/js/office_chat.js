/* The agent's side of a web chat, on the chat ticket's page: the conversation so far
 * (`chat.history`), new lines live (`chat.message`, also heard in the "office" room),
 * replies (`chat.reply`: Enter sends, Shift+Enter starts a new line) and ending the
 * chat (`chat.close`). After a reconnect it asks for the lines it missed. Lines are
 * text nodes: a citizen's words never become markup.
 *
 * <script src=office_chat.js data-reference=... data-msg-citizen data-msg-agent
 *  data-msg-closed data-msg-failed> */
(function () {
  "use strict";

  var script = document.currentScript;
  var panel = document.getElementById("office-chat");
  if (!script || !panel || typeof window.io !== "function") {
    return;
  }
  var data = script.dataset;
  var reference = data.reference;
  var lines = document.getElementById("chat-lines");
  var form = document.getElementById("chat-reply");
  var text = form.querySelector("textarea");
  var status = document.getElementById("chat-status");
  var closeButton = document.getElementById("chat-close");
  var seen = {};
  var lastId = 0;
  var socket = window.io("/office", { transports: ["websocket", "polling"] });

  function add(message) {
    if (!message || message.reference !== reference || seen[message.id]) {
      return;
    }
    seen[message.id] = true;
    lastId = Math.max(lastId, message.id);
    var line = document.createElement("p");
    line.className = "chat-line " + message.direction;
    var who = document.createElement("strong");
    who.textContent = message.direction === "inbound"
      ? data.msgCitizen
      : (message.author_name || data.msgAgent);
    var when = document.createElement("small");
    when.textContent = " " + new Date(message.at).toLocaleTimeString("zh-CN", { hour12: false });
    var body = document.createElement("span");
    body.textContent = message.text;
    line.appendChild(who);
    line.appendChild(when);
    line.appendChild(document.createElement("br"));
    line.appendChild(body);
    lines.appendChild(line);
    lines.scrollTop = lines.scrollHeight;
  }

  function ended() {
    status.textContent = data.msgClosed;
    Array.prototype.forEach.call(form.elements, function (element) {
      element.disabled = true;
    });
    closeButton.disabled = true;
  }

  function failed(ack) {
    var error = ack && ack.error;
    status.textContent = (error && (error.message_zh || error.message)) || data.msgFailed;
  }

  function catchUp() {
    socket.emit("chat.history", { reference: reference, since_id: lastId }, function (ack) {
      if (ack && ack.ok) {
        ack.messages.forEach(add);
      } else {
        failed(ack);
      }
    });
  }

  socket.on("connect", catchUp);
  socket.on("chat.message", add);
  socket.on("chat.closed", function (event) {
    if (event && event.reference === reference) {
      ended();
    }
  });

  function send() {
    var value = text.value.trim();
    if (!value) {
      return;
    }
    status.textContent = "";
    socket.emit("chat.reply", { reference: reference, text: value }, function (ack) {
      if (ack && ack.ok) {
        text.value = "";
      } else {
        failed(ack);
      }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault(); // Shift+Enter: a new line; Enter while typing pinyin: the IME's
      send();
    }
  });
  closeButton.addEventListener("click", function () {
    socket.emit("chat.close", { reference: reference }, function (ack) {
      if (ack && ack.ok) {
        ended();
      } else {
        failed(ack);
      }
    });
  });
  if (panel.dataset.closed === "true") {
    ended();
  }
})();
