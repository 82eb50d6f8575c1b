// The colour theme chosen with the header's toggle, applied before the first paint (the
// page's WASM arrives later): "dark" or "light" as <html data-theme>; none follows the
// system. A file, not an inline script, so the page's CSP needs no exception.
try {
  var theme = localStorage.getItem('theme');
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
} catch (e) {}
