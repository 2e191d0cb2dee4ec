/* 12345 web chat widget: the citizen's side of /chat over Socket.IO (namespace "/chat").
 * The page renders the conversation so far; this script connects (the HttpOnly
 * `hotline_chat` cookie authenticates), asks for what it missed (`chat.history` since
 * the last id it shows), sends lines with `chat.send` and renders `chat.message` pushes.
 * Labels come from the page's data attributes, so the script carries no language. */
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root || root.dataset.state !== "open" || typeof window.io !== "function") {
    return;
  }
  var labels = root.dataset;
  var english = document.documentElement.lang === "en";
  var log = document.getElementById("chat-log");
  var status = document.getElementById("chat-status");
  var form = document.getElementById("chat-send");
  var input = document.getElementById("chat-text");
  var sendButton = form.querySelector("button[type=submit]");
  var leaveButton = document.getElementById("chat-leave");
  var seen = {};
  var lastId = 0;
  var ended = false;
  var timeFormat = new Intl.DateTimeFormat(english ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit"
  });

  function setStatus(text) {
    status.textContent = text || "";
  }

  function errorText(ack) {
    var error = ack && ack.error;
    if (!error) {
      return labels.msgFailed;
    }
    return (english ? error.message : error.message_zh) || labels.msgFailed;
  }

  function showTime(element, iso) {
    var date = new Date(iso);
    if (!isNaN(date.getTime())) {
      element.textContent = timeFormat.format(date);
    }
  }

  function remember(id) {
    seen[id] = true;
    if (id > lastId) {
      lastId = id;
    }
  }

  function render(message) {
    if (!message || typeof message.id !== "number" || seen[message.id]) {
      return;
    }
    remember(message.id);
    var item = document.createElement("li");
    item.className = "msg " + (message.direction === "outbound" ? "outbound" : "inbound");
    item.dataset.id = String(message.id);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = message.direction === "outbound" ? labels.labelAgent : labels.labelCitizen;
    var time = document.createElement("time");
    time.dateTime = message.at;
    showTime(time, message.at);
    var text = document.createElement("p");
    text.className = "text";
    text.textContent = message.text; // never innerHTML: the text is the citizen's or an agent's
    item.append(who, time, text);
    // Pushes can overtake a history answer: keep the list in id order.
    var next = null;
    log.querySelectorAll("li[data-id]").forEach(function (other) {
      if (next === null && Number(other.dataset.id) > message.id) {
        next = other;
      }
    });
    log.insertBefore(item, next);
    item.scrollIntoView({ block: "nearest" });
  }

  function end() {
    ended = true;
    input.disabled = true;
    sendButton.disabled = true;
    leaveButton.disabled = true;
    setStatus(labels.msgEnded);
    if (!document.getElementById("chat-again")) {
      var again = document.createElement("a");
      again.id = "chat-again";
      again.href = window.location.pathname; // the page offers a new consultation
      again.textContent = labels.labelAgain;
      status.after(again);
    }
  }

  function clientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  log.querySelectorAll("li[data-id]").forEach(function (item) {
    remember(Number(item.dataset.id));
    var time = item.querySelector("time");
    if (time) {
      showTime(time, time.getAttribute("datetime"));
    }
  });

  setStatus(labels.msgConnecting);
  var socket = window.io("/chat");

  socket.on("connect", function () {
    setStatus("");
    socket.emit("chat.history", { since_id: lastId }, function (ack) {
      if (ack && ack.ok) {
        ack.messages.forEach(render);
      }
    });
  });

  socket.on("connect_error", function (error) {
    if (error && error.data && error.data.code === "not_authenticated") {
      socket.disconnect(); // the cookie is gone or unknown: retrying cannot help
      setStatus(labels.msgExpired);
      end();
      return;
    }
    setStatus(labels.msgOffline);
  });

  socket.on("disconnect", function (reason) {
    if (!ended && reason !== "io client disconnect") {
      setStatus(labels.msgOffline);
    }
  });

  socket.on("chat.message", render);
  socket.on("chat.closed", end);

  function send(text, id) {
    sendButton.disabled = true;
    // The same client_id on a retry lets the server drop a duplicate.
    socket.timeout(10000).emit("chat.send", { text: text, client_id: id }, function (err, ack) {
      sendButton.disabled = ended;
      if (err) {
        setStatus(labels.msgFailed);
        return;
      }
      if (!ack || !ack.ok) {
        setStatus(errorText(ack));
        return;
      }
      setStatus("");
      pending = null;
      if (input.value.trim() === text) {
        input.value = "";
      }
      render({ id: ack.id, direction: "inbound", text: text, at: new Date().toISOString() });
    });
  }

  var pending = null;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || ended) {
      return;
    }
    if (!pending || pending.text !== text) {
      pending = { text: text, id: clientId() };
    }
    send(pending.text, pending.id);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault(); // Enter sends; Shift+Enter and IME composition do not
      form.requestSubmit();
    }
  });

  leaveButton.addEventListener("click", function () {
    if (!window.confirm(labels.msgConfirmLeave)) {
      return;
    }
    socket.emit("chat.leave", {}, function (ack) {
      if (ack && ack.ok) {
        end();
      } else {
        setStatus(errorText(ack));
      }
    });
  });
})();
