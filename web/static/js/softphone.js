/* The browser phone on the agent console (Twilio Voice JavaScript SDK, vendored as
 * static/vendor/twilio.min.js). The agent takes the next caller from the voice queue:
 * the phone calls the TwiML App, whose voice URL (/twilio/voice/agent) dials the queue.
 * A token comes from GET data-token (/twilio/voice/token); where the city has no Twilio
 * credentials that answers 503 and the panel says so: the console works without it
 * (agents on desk phones). Nothing reaches Twilio before the agent takes a call.
 *
 * While a call is up, window.hotlinePhone.busy() is true: the console then opens the
 * screen pop in another window instead of leaving this page, which would end the call. */
(function () {
  "use strict";

  var script = document.currentScript;
  var panel = document.getElementById("softphone");
  if (!script || !panel) {
    return;
  }
  var data = script.dataset;
  var status = document.getElementById("softphone-status");
  var take = document.getElementById("softphone-take");
  var hangUp = document.getElementById("softphone-hangup");
  var mute = document.getElementById("softphone-mute");
  var device = null;
  var call = null;

  function say(text) {
    status.textContent = text;
  }

  function controls() {
    take.disabled = Boolean(call) || !window.Twilio;
    hangUp.disabled = !call;
    mute.disabled = !call;
    mute.setAttribute("aria-pressed", call && call.isMuted() ? "true" : "false");
  }

  function token() {
    return fetch(data.token, { credentials: "same-origin" }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = body && body.error;
          throw new Error((error && (error.message_zh || error.message)) || data.msgFailed);
        }
        return body.token;
      });
    });
  }

  function ended() {
    call = null;
    say(data.msgReady);
    controls();
  }

  function ready() {
    if (device) {
      return Promise.resolve(device);
    }
    return token().then(function (jwt) {
      device = new window.Twilio.Device(jwt, {
        closeProtection: data.msgLeave, // leaving the page during a call asks first
        codecPreferences: ["opus", "pcmu"],
        logLevel: "warn",
      });
      device.on("error", function (error) {
        say(data.msgFailed + (error && error.code ? " (" + error.code + ")" : ""));
      });
      device.on("tokenWillExpire", function () {
        token().then(function (fresh) {
          device.updateToken(fresh);
        }).catch(function () {});
      });
      return device;
    });
  }

  take.addEventListener("click", function () {
    take.disabled = true;
    say(data.msgConnecting);
    ready()
      .then(function (phone) {
        return phone.connect();
      })
      .then(function (current) {
        call = current;
        controls();
        call.on("accept", function () {
          say(data.msgOnCall);
        });
        call.on("disconnect", ended);
        call.on("cancel", ended);
        call.on("reject", ended);
        call.on("error", function () {
          say(data.msgFailed);
        });
      })
      .catch(function (error) {
        call = null;
        say((error && error.message) || data.msgFailed);
        controls();
      });
  });
  hangUp.addEventListener("click", function () {
    if (call) {
      call.disconnect();
    }
  });
  mute.addEventListener("click", function () {
    if (call) {
      call.mute(!call.isMuted());
      controls();
    }
  });

  window.hotlinePhone = {
    busy: function () {
      return Boolean(call);
    },
  };

  // Whether this city has a browser phone at all: ask once, without reaching Twilio.
  if (!window.Twilio || typeof window.Twilio.Device !== "function") {
    say(data.msgNoSdk);
    controls();
    return;
  }
  token()
    .then(function () {
      say(data.msgReady);
      panel.dataset.state = "ready";
      controls();
    })
    .catch(function (error) {
      say(error.message);
      panel.dataset.state = "off";
      take.disabled = true;
      hangUp.disabled = true;
      mute.disabled = true;
    });
})();
