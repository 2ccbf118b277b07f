// Small behaviours of the workspace's pages, attached by data attributes rather than inline handlers: the
// Content-Security-Policy (docs/security.md) runs no inline script, no on* attribute and no eval.
"use strict";

document.addEventListener("change", (ev) => {
  // <select data-autosubmit> or <form data-autosubmit>: send the form as soon as a choice changes.
  const target = ev.target instanceof Element ? ev.target : null;
  const auto = target && target.closest("[data-autosubmit]");
  if (!auto) return;
  const form = auto instanceof HTMLFormElement ? auto : auto.closest("form");
  if (form) form.requestSubmit();
});

document.addEventListener("click", (ev) => {
  const target = ev.target instanceof Element ? ev.target : null;
  if (!target) return;
  const close = target.closest(".flash-close");
  if (close && close.parentElement) {
    close.parentElement.remove();
    return;
  }
  const insert = target.closest("button[data-insert]");
  if (insert) insertIntoComposer(insert.dataset.insert || "");
});

document.addEventListener("submit", (ev) => {
  // <form data-confirm="question">: ask first.
  const form = ev.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    ev.preventDefault();
  }
});

document.addEventListener("htmx:afterRequest", (ev) => {
  // <form data-reset-on-success>: empty the form once the server took what it (or a button in it) sent.
  const form = ev.target instanceof Element ? ev.target.closest("form[data-reset-on-success]") : null;
  const xhr = ev.detail && ev.detail.xhr;
  if (form && xhr && xhr.status < 300) form.reset();
});

// Inserts at the cursor of the reply box; a separate line keeps links clickable in every channel.
function insertIntoComposer(text) {
  const box = document.getElementById("composer-text");
  if (!box) return;
  const start = box.selectionStart ?? box.value.length;
  const end = box.selectionEnd ?? start;
  const before = box.value.slice(0, start);
  const sep = before && !before.endsWith("\n") ? "\n" : "";
  box.value = before + sep + text + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = (before + sep + text).length;
}
