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
