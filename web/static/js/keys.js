/* One keystroke for the hotline centre's buttons: Alt + the button's access key clicks
 * it, the same in every browser (Firefox's own is Alt+Shift, a Mac's Option types
 * letters) and whatever field has the focus. Read by key position (KeyD, Digit1). */
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.repeat) {
      return;
    }
    var code = event.code || "";
    var key = code.indexOf("Key") === 0 || code.indexOf("Digit") === 0
      ? code.replace(/^(Key|Digit)/, "").toLowerCase()
      : "";
    if (!key) {
      return;
    }
    var target = document.querySelector('[accesskey="' + key + '"]');
    if (!target || target.disabled) {
      return;
    }
    event.preventDefault();
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "submit") {
      target.focus(); // a field's key takes you to it
    } else {
      target.click();
    }
  });
})();
