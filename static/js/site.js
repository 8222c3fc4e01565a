// Small enhancements for the settings pages. Every action also works without this file:
// chips are checkboxes, copy is a readonly field, and a revoke without it asks on a page.
(function () {
  "use strict";

  // Event chips: each checkbox becomes a toggle button (aria-pressed) that drives it.
  // Buttons are focusable and answer Enter and Space natively.
  function enhanceChips(root) {
    root.querySelectorAll("[data-chips] .chip-check").forEach(function (label) {
      var box = label.querySelector("input[type=checkbox]");
      if (!box) return;
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      // The mark is decoration: the state is aria-pressed, the name is the event name alone.
      var mark = document.createElement("span");
      mark.className = "chip__mark";
      mark.setAttribute("aria-hidden", "true");
      chip.append(mark, document.createTextNode(box.value));
      if (box.hasAttribute("data-count")) {
        var count = document.createElement("span");
        count.className = "chip__count";
        count.textContent = " " + box.getAttribute("data-count");
        chip.append(count);
      }
      function show() {
        chip.setAttribute("aria-pressed", box.checked ? "true" : "false");
        mark.textContent = box.checked ? "✓" : "+";
      }
      chip.addEventListener("click", function () {
        box.checked = !box.checked;
        show();
      });
      show();
      // The checkbox stays in the form (hidden inputs are still sent).
      label.hidden = true;
      label.after(chip);
    });
  }

  // Show the chips only while "Specific profile events" is chosen.
  function linkEventsMode(root) {
    root.querySelectorAll("[data-events-form]").forEach(function (form) {
      var specific = form.querySelector("[data-specific-events]");
      var radios = form.querySelectorAll("[data-events-mode]");
      if (!specific || !radios.length) return;
      function update() {
        var chosen = form.querySelector("[data-events-mode]:checked");
        specific.hidden = !chosen || chosen.value !== "specific";
      }
      radios.forEach(function (radio) { radio.addEventListener("change", update); });
      update();
    });
  }

  // Confirmations: a native dialog; when the form carries a flag (revoke, roll), the answer is
  // sent so that no page needs to ask again. A roll's question is the chosen grace's own.
  function confirmForms(root) {
    root.querySelectorAll("form[data-confirm], form[data-roll-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var question = form.getAttribute("data-confirm");
        var grace = form.querySelector("select[name=grace]");
        if (grace && grace.selectedOptions.length) {
          question = grace.selectedOptions[0].getAttribute("data-confirm") || question;
        }
        if (!window.confirm(question)) {
          event.preventDefault();
          return;
        }
        var flag = form.querySelector("[data-confirm-value]");
        if (flag) flag.value = "yes";
      });
    });
  }

  // Copy buttons for the one-time secret.
  function copyButtons(root) {
    var status = root.querySelector("[data-copy-status]");
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var label = field.labels && field.labels[0] ? field.labels[0].textContent.trim() : "Secret";
        function done(ok) {
          if (status) status.textContent = ok ? label + " copied." : "Select the text and copy it.";
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(
            function () { done(true); },
            function () { field.select(); done(false); }
          );
        } else {
          field.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
          done(ok);
        }
      });
    });
    root.querySelectorAll("[data-secret]").forEach(function (field) {
      field.addEventListener("focus", function () { field.select(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhanceChips(document);
    linkEventsMode(document);
    confirmForms(document);
    copyButtons(document);
  });
})();
