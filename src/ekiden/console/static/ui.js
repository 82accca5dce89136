// Shared interaction pieces: the live status region and the modal confirmation dialog.

import { h } from "./dom.js";

/** Mark a button busy (or ready again) while its request runs. Not `disabled`: a
 *  disabled button drops keyboard focus to <body>, stranding keyboard and screen-reader
 *  users after every send; aria-disabled keeps focus and is announced as unavailable.
 *  Click/submit handlers check isBusy() to ignore repeats. */
export function setBusy(button, busy) {
  if (busy) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

export const isBusy = (button) => button.getAttribute("aria-disabled") === "true";

/** Announce an async result in the page-wide live region (role=status, polite; errors are
 *  also shown with role=alert next to the control that failed, see errorBox). */
export function announce(text, kind = "info") {
  const region = document.getElementById("announce");
  if (!region) return;
  // Clearing first makes screen readers repeat an identical message.
  region.textContent = "";
  region.dataset.kind = kind;
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/** An inline message box for one form: .show(text, kind) / .clear(). Errors use
 *  role=alert (assertive), successes a polite status. */
export function messageBox() {
  const el = h("div.message", { hidden: true });
  return {
    el,
    show(text, kind = "ok") {
      el.hidden = false;
      el.className = `message message-${kind}`;
      el.setAttribute("role", kind === "error" ? "alert" : "status");
      el.replaceChildren(h("strong", {}, kind === "error" ? "Error: " : "Done: "), text);
    },
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

/** Ask a yes/no question in a modal <dialog>; resolves true on confirm. Focus moves into
 *  the dialog, Tab cycles inside it, Escape (or Cancel) closes it, and focus returns to
 *  the control that opened it. */
export function confirmDialog({ title, body, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = `dlg-title-${Date.now()}`;
    const bodyId = `${titleId}-body`;
    const cancel = h("button.button", { type: "button", value: "cancel" }, "Cancel");
    const ok = h(danger ? "button.button.danger" : "button.button.primary", { type: "button", value: "ok" }, confirmLabel);
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId, "aria-describedby": bodyId, "aria-modal": "true" },
      h("h2", { id: titleId }, title),
      h("p", { id: bodyId }, body),
      h("div.actions", {}, cancel, ok),
    );
    let answered = false;
    const finish = (answer) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (opener && typeof opener.focus === "function") opener.focus();
      resolve(answer);
    };
    cancel.addEventListener("click", () => finish(false));
    ok.addEventListener("click", () => finish(true));
    // Escape fires "cancel" on a modal dialog; "close" covers any other way it closes.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.addEventListener("close", () => finish(false));
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
        return;
      }
      if (event.key !== "Tab") return;
      // showModal already makes the page inert; wrapping Tab keeps focus off the
      // browser chrome too, as a focus trap should.
      const focusable = [cancel, ok];
      const index = focusable.indexOf(document.activeElement);
      const next = event.shiftKey ? (index <= 0 ? focusable.length - 1 : index - 1) : (index + 1) % focusable.length;
      event.preventDefault();
      focusable[next].focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    // The safe choice gets focus first for destructive actions.
    (danger ? cancel : ok).focus();
  });
}
