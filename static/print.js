// The "Afdrukken" button prints the page. It stays hidden without JavaScript, where
// it could do nothing; the browser's own print command uses the same print styles.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
});
