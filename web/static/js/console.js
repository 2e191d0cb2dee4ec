/* The agent console: when a call is put through to this agent (the "call.answered" push
 * to their own room, heard by live_list.js), the screen pop opens at once.
 *
 * <script src=console.js data-call-url="URL with CALL_SID where the call's sid goes"> */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    return;
  }
  var template = script.dataset.callUrl;
  document.addEventListener("live:call.answered", function (event) {
    var sid = event.detail && event.detail.call_sid;
    if (typeof sid === "string" && /^[A-Za-z0-9]{1,64}$/.test(sid)) {
      window.location.assign(template.replace("CALL_SID", sid));
    }
  });
})();
