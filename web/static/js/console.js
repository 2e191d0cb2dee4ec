/* The agent console: when a call is put through to this agent (the "call.answered" push
 * to their own room, heard by live_list.js), the screen pop opens at once. While the
 * browser phone on this page carries the call, leaving the page would end it: the
 * screen pop then opens in its own window, or, if the browser blocks that, as a link.
 *
 * <script src=console.js data-call-url="URL with CALL_SID where the call's sid goes"
 *  data-last-event-id="the newest event when the page was rendered"> */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    return;
  }
  var template = script.dataset.callUrl;
  // Only calls put through after this page was rendered: a replay after a reconnect
  // (or coming back from a screen pop) must not reopen a call already handled.
  var renderedAt = parseInt(script.dataset.lastEventId || "0", 10) || 0;
  var notice = document.getElementById("screen-pop-notice");
  document.addEventListener("live:call.answered", function (event) {
    var sid = event.detail && event.detail.call_sid;
    var id = event.detail && event.detail.event_id;
    if (typeof sid !== "string" || !/^[A-Za-z0-9]{1,64}$/.test(sid) || !(id > renderedAt)) {
      return;
    }
    var url = template.replace("CALL_SID", sid);
    var phone = window.hotlinePhone;
    if (!phone || !phone.busy()) {
      window.location.assign(url);
      return;
    }
    var opened = window.open(url, "screen-pop");
    if (!opened && notice) {
      var link = notice.querySelector("a");
      link.href = url;
      notice.hidden = false;
    }
  });
})();
