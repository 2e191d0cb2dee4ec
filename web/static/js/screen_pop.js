/* The screen pop's live suggestions: while the agent types the request, the knowledge
 * base's answers, routing's three best units (with reasons) and the deadline preview
 * follow, from GET data-suggest (JSON {kb, routing, deadline}). Everything is built
 * with text nodes: a caller's words never become markup. */
(function () {
  "use strict";

  var script = document.currentScript;
  var form = document.getElementById("call-ticket");
  if (!script || !form) {
    return;
  }
  var data = script.dataset;
  var content = document.getElementById("ticket-content");
  var address = document.getElementById("ticket-address");
  var kind = document.getElementById("ticket-type");
  var urgency = document.getElementById("ticket-urgency");
  var kbHits = document.getElementById("kb-hits");
  var routingHits = document.getElementById("routing-hits");
  var deadline = document.getElementById("deadline-preview");
  var answer = form.querySelector("textarea[name=answer]");
  var autoAnswer = answer ? answer.value : "";
  var timer = null;
  var asked = 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function radio(name, value, checked, disabled) {
    var input = el("input");
    input.type = "radio";
    input.name = name;
    input.value = value;
    input.checked = checked;
    input.disabled = disabled;
    return input;
  }

  function fillAnswer(snippet) {
    // The answer follows the chosen article until the agent writes their own.
    if (answer && (answer.value === "" || answer.value === autoAnswer)) {
      answer.value = snippet;
      autoAnswer = snippet;
    }
  }

  function showArticles(hits) {
    kbHits.textContent = "";
    if (!hits.length) {
      kbHits.appendChild(el("p", "empty", data.msgNoArticle));
      return;
    }
    hits.forEach(function (hit, index) {
      var label = el("label", "kb-hit");
      var input = radio("article", hit.key, index === 0, false);
      input.addEventListener("change", function () {
        fillAnswer(hit.snippet);
      });
      label.appendChild(input);
      label.appendChild(el("strong", "", hit.title));
      label.appendChild(el("small", "", " " + hit.key));
      label.appendChild(el("span", "snippet", hit.snippet));
      kbHits.appendChild(label);
    });
    fillAnswer(hits[0].snippet);
  }

  function showRouting(suggestions) {
    routingHits.textContent = "";
    var first = true;
    suggestions.forEach(function (s) {
      var label = el("label", "route-hit");
      var usable = Boolean(s.department);
      label.appendChild(
        radio("route", (s.department || "") + "|" + (s.category || ""), usable && first, !usable)
      );
      first = first && !usable;
      label.appendChild(el("strong", "", s.department_name || data.msgNoRule));
      var detail = [s.category_name, s.territory_name, s.score.toFixed(2)].filter(Boolean);
      label.appendChild(el("small", "", " " + detail.join(" · ")));
      label.appendChild(el("span", "reasons", s.reasons.join("；")));
      routingHits.appendChild(label);
    });
  }

  function showDeadline(due) {
    if (!due) {
      deadline.textContent = "";
      return;
    }
    var text = data.msgSign + " " + due.sign_due_at + " · " + data.msgDue + " " + due.due_at;
    deadline.textContent = due.provisional ? text + " ⚠ " + data.msgProvisional : text;
  }

  function ask() {
    var mine = ++asked;
    var query = new URLSearchParams({
      text: content.value,
      address: address.value,
      type: kind.value,
      urgency: urgency.value,
    });
    var url = data.suggest + (data.suggest.indexOf("?") < 0 ? "?" : "&") + query.toString();
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (found) {
        if (!found || mine !== asked) {
          return; // a newer question is on its way
        }
        if (content.value.trim()) {
          showArticles(found.kb);
          showRouting(found.routing);
        }
        showDeadline(found.deadline);
      })
      .catch(function () {});
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  }

  content.addEventListener("input", soon);
  address.addEventListener("input", soon);
  kind.addEventListener("change", ask);
  urgency.addEventListener("change", ask);
  ask();
})();
