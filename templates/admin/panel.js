// The panel's only script (served as a file: the Content-Security-Policy
// allows no inline script). A form with data-confirm asks before it submits.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
