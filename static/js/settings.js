// Settings pages: live preview of the company branding, and the token copy button.
// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  var SIX_DIGITS = /^#[0-9a-fA-F]{6}$/;
  var ANY_HEX = /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;

  function setupAccent() {
    var text = document.querySelector('input[name="accent_color"]');
    var picker = document.getElementById("accent-picker");
    var sample = document.getElementById("accent-sample");
    var label = document.getElementById("accent-value");
    if (!text || !sample) return;

    function show(value) {
      var ok = ANY_HEX.test(value);
      sample.style.backgroundColor = ok ? value : "";
      sample.style.borderColor = ok ? value : "";
      if (label) label.textContent = ok ? value : value ? value + " (not a colour yet)" : "default colour";
    }
    function expand(value) {
      // #rgb -> #rrggbb, #rrggbbaa -> #rrggbb: what <input type=color> understands
      if (/^#[0-9a-fA-F]{3}$/.test(value)) {
        return "#" + value[1] + value[1] + value[2] + value[2] + value[3] + value[3];
      }
      return ANY_HEX.test(value) ? value.slice(0, 7) : null;
    }

    if (picker) {
      var start = expand(text.value.trim());
      if (start && SIX_DIGITS.test(start)) picker.value = start;
      picker.addEventListener("input", function () {
        text.value = picker.value;
        show(picker.value);
      });
    }
    text.addEventListener("input", function () {
      var value = text.value.trim();
      var six = expand(value);
      if (picker && six) picker.value = six;
      show(value);
    });
    show(text.value.trim());
  }

  function setupImagePreviews() {
    var inputs = document.querySelectorAll('input[type="file"][data-preview]');
    Array.prototype.forEach.call(inputs, function (input) {
      input.addEventListener("change", function () {
        var img = document.getElementById(input.getAttribute("data-preview"));
        var file = input.files && input.files[0];
        if (!img || !file || !/^image\/(png|jpeg|gif|webp)$/.test(file.type)) return;
        var reader = new FileReader();
        reader.addEventListener("load", function () {
          img.src = reader.result;
          img.hidden = false;
        });
        reader.readAsDataURL(file);
      });
    });
  }

  function setupCopy() {
    var buttons = document.querySelectorAll("[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      var status = document.querySelector("[data-copy-status]");
      if (!field) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        field.select();
        var done = function () {
          if (status) status.textContent = "Copied.";
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(field.value).then(done, function () {
            if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
          });
        } else {
          if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
        }
      });
    });
  }

  function setupConfirm() {
    // plain forms that ask first (htmx forms use hx-confirm)
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var question = form && form.getAttribute && form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }

  function start() {
    setupConfirm();
    setupAccent();
    setupImagePreviews();
    setupCopy();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
