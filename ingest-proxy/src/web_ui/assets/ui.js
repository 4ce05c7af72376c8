// crashcache's web UI: the little script there is. Every page works without it; it adds
// conveniences only, all wired by data- attributes (no inline script: the CSP forbids it).
//   data-copy="text"          a button that copies its text to the clipboard
//   data-select-all="name"    a checkbox that ticks every checkbox named `name` in its form
//   data-autosubmit           a select that submits its form when changed
//   data-confirm="question"   a form that asks before it is sent
//   data-shortcut="/"         an input focused by that key (when not typing elsewhere)
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = button.getAttribute("data-copy");
  const done = () => {
    const label = button.textContent;
    button.classList.add("copied");
    button.textContent = "Copied";
    setTimeout(() => {
      button.classList.remove("copied");
      button.textContent = label;
    }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
});

// Over plain http (a tracker on a LAN address) the clipboard API is missing.
function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try {
    if (document.execCommand("copy")) done();
  } finally {
    area.remove();
  }
}

document.addEventListener("change", (event) => {
  const target = event.target;
  const name = target.getAttribute && target.getAttribute("data-select-all");
  if (name) {
    const form = target.form || target.closest("form");
    form.querySelectorAll(`input[type="checkbox"][name="${CSS.escape(name)}"]`).forEach((box) => {
      box.checked = target.checked;
    });
    return;
  }
  if (target.hasAttribute && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.submit();
  }
});

document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  const typing = active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
  if (typing) {
    if (event.key === "Escape") active.blur();
    return;
  }
  const field = document.querySelector(`[data-shortcut="${CSS.escape(event.key)}"]`);
  if (field) {
    event.preventDefault();
    field.focus();
    if (field.select) field.select();
  }
});
