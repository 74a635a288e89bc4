// Progressive enhancement only: every page works without this file.
// htmx requests carry the CSRF token of the page, as the portal's forms do.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) event.detail.headers["X-CSRFToken"] = token.content;
});
