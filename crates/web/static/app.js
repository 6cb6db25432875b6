// Small progressive enhancements; every page works without them.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.classList && form.classList.contains("confirm") && !window.confirm("Are you sure?")) {
    event.preventDefault();
  }
});
