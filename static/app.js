/* Behaviour for the recruiter pages. No inline scripts: everything is wired here
   from data attributes, so a strict Content-Security-Policy can forbid them. */
(function () {
  "use strict";

  function status(text) {
    var el = document.getElementById("board-status");
    if (el) el.textContent = text;
  }

  /* ---- kanban: drag and drop ---- */
  function initBoard(root) {
    var board = root.id === "board" ? root : root.querySelector && root.querySelector("#board");
    if (!board || !window.Sortable) return;
    board.querySelectorAll(".cards").forEach(function (list) {
      window.Sortable.create(list, {
        group: "board", animation: 120, delay: 80, delayOnTouchOnly: true, forceFallback: true,
        filter: "button, a, input, select", preventOnFilter: false,
        onEnd: onDrop,
      });
    });
  }

  function onDrop(evt) {
    var card = evt.item;
    if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
    var stage = evt.to.dataset.stage;
    var prev = card.previousElementSibling, next = card.nextElementSibling;
    var values = {
      stage: stage,
      after_id: prev ? prev.dataset.id : "",
      before_id: next ? next.dataset.id : "",
    };
    if (stage === "rejected" && evt.from !== evt.to) {
      askReason(card, values);
    } else {
      send(card, values);
    }
  }

  function send(card, values) {
    card.dataset.stage = values.stage;
    htmx.ajax("POST", card.dataset.moveUrl, { values: values, target: "#board-status", swap: "innerHTML" })
      .then(function () { status(card.querySelector(".name").textContent + " moved to " + values.stage.replace("_", " ") + "."); });
  }

  function askReason(card, values) {
    var dialog = document.getElementById("reject-dialog");
    var form = dialog.querySelector("form");
    form.reset();
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      var reason = form.elements.rejected_reason.value;
      if (dialog.returnValue === "confirm" && reason) {
        values.rejected_reason = reason;
        values.rejected_note = form.elements.rejected_note.value;
        send(card, values);
      } else {
        window.location.reload(); // put the card back where the server has it
      }
    });
  }

  /* ---- kanban: keyboard "move to" dialog ---- */
  document.addEventListener("click", function (e) {
    var opener = e.target.closest(".move-open");
    if (opener) {
      var card = opener.closest(".kcard");
      var dialog = document.getElementById("move-dialog");
      var form = dialog.querySelector("form");
      form.reset();
      form.setAttribute("action", card.dataset.moveUrl);
      form.elements.stage.value = card.dataset.stage;
      dialog.querySelector("[data-move-name]").textContent = card.querySelector(".name").textContent;
      dialog.dataset.opener = card.id;
      dialog.showModal();
      form.elements.stage.focus();
      return;
    }
    if (e.target.closest(".dialog-close")) e.target.closest("dialog").close();
  });

  document.addEventListener("submit", function (e) {
    var form = e.target.closest(".move-form");
    if (!form || !window.htmx) return;
    e.preventDefault();
    var dialog = form.closest("dialog");
    htmx.ajax("POST", form.getAttribute("action"), { source: form, target: "#board", swap: "outerHTML" })
      .then(function () {
        dialog.close();
        var card = document.getElementById(dialog.dataset.opener);
        if (card) { var btn = card.querySelector(".move-open"); if (btn) btn.focus(); }
      });
  });

  /* a refused move (e.g. rejected without a reason): say why, show the truth */
  document.addEventListener("htmx:responseError", function (e) {
    var box = document.getElementById("board-status");
    if (!box) return;
    var tmp = document.createElement("div");
    tmp.innerHTML = e.detail.xhr.responseText;
    status(tmp.textContent.trim() || "That move was refused.");
    setTimeout(function () { window.location.reload(); }, 1500);
  });

  /* ---- kanban: text / tag filter, on the client (2,000 cards stay quick) ---- */
  document.addEventListener("input", function (e) {
    if (!e.target.matches("[data-board-filter]")) return;
    var words = e.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    document.querySelectorAll("#board .kcard").forEach(function (card) {
      var hay = card.dataset.search;
      var ok = words.every(function (w) { return hay.indexOf(w) !== -1; });
      card.hidden = !ok;
      if (ok) shown++;
    });
    status(words.length ? shown + " matching cards" : "");
  });

  /* ---- job form: number the question rows the "Add question" button adds ---- */
  document.addEventListener("htmx:configRequest", function (e) {
    var btn = e.detail.elt;
    if (btn.classList && btn.classList.contains("add-question")) {
      var list = document.querySelector("#" + btn.dataset.list + " .questions");
      e.detail.parameters.index = list.querySelectorAll("fieldset.question").length;
    }
  });

  document.addEventListener("DOMContentLoaded", function () { initBoard(document); });
  document.addEventListener("htmx:load", function (e) { initBoard(e.detail.elt); });
})();
