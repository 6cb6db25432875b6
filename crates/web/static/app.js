// Small progressive enhancements; every page works without them.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.classList && form.classList.contains("confirm") && !window.confirm("Are you sure?")) {
    event.preventDefault();
  }
});

// Quick replies fill the compose box; the associate still reads and sends.
document.addEventListener("click", (event) => {
  const b = event.target.closest && event.target.closest(".quick-reply");
  if (!b) return;
  const box = document.getElementById("text");
  if (box) { box.value = b.dataset.text; box.focus(); }
});

// The segment editor's live count: asked of the server as the expression changes.
document.querySelectorAll(".segment-expression").forEach((input) => {
  const out = input.parentElement.querySelector(".segment-count");
  if (!out) return;
  let timer = null;
  const ask = async () => {
    const e = input.value.trim();
    if (!e) { out.textContent = ""; return; }
    try {
      const r = await fetch("/segments/count?expression=" + encodeURIComponent(e), { credentials: "same-origin" });
      const v = await r.json();
      out.textContent = r.ok ? `${v.count} / ${v.of} ${out.dataset.label}` : v.error;
      out.classList.toggle("error", !r.ok);
    } catch (_) { out.textContent = ""; }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 250); });
  ask();
});
