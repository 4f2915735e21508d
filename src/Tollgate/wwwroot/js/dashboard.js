// Progressive enhancement only: every page works without this file.
document.documentElement.classList.add("js");

document.addEventListener("click", async (event) => {
  // Copy buttons: data-copy="#id" copies that element's text.
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    event.preventDefault();
    const source = document.querySelector(copy.dataset.copy);
    const text = source ? (source.value ?? source.textContent).trim() : "";
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard refused (not a secure context): select the text so Ctrl+C works.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    const label = copy.querySelector("[data-copy-label]") ?? copy;
    const before = label.textContent;
    label.textContent = "Copied";
    copy.setAttribute("aria-live", "polite");
    setTimeout(() => { label.textContent = before; }, 1600);
    return;
  }

  // The phone menu.
  const menu = event.target.closest("[data-menu]");
  if (menu) {
    const sidebar = document.querySelector(".sidebar");
    const open = sidebar.classList.toggle("open");
    menu.setAttribute("aria-expanded", String(open));
  }
});

// Forms with data-confirm ask first (the server asks again on its own page when JavaScript is off).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm ?? event.submitter?.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Inputs with data-select-all select their whole value on focus (the one-time secret).
for (const input of document.querySelectorAll("[data-select-all]")) {
  input.addEventListener("focus", () => input.select());
}
