// forensics serve: drag-and-drop onto the upload form. The files go through the form's own file input and
// the form is submitted as usual (streamed multipart upload); nothing else is sent anywhere.
(function () {
  "use strict";
  function init() {
    var zone = document.getElementById("dropzone");
    var input = document.getElementById("files");
    var form = document.getElementById("upload-form");
    var picked = document.getElementById("picked");
    if (!zone || !input || !form) { return; }
    function show() {
      var names = [];
      for (var i = 0; i < input.files.length; i++) { names.push(input.files[i].name); }
      picked.textContent = names.length ? names.length + " file(s): " + names.join(", ") : "";
    }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "dragend"].forEach(function (ev) {
      zone.addEventListener(ev, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("over");
      if (!e.dataTransfer || !e.dataTransfer.files.length) { return; }
      input.files = e.dataTransfer.files;
      show();
      form.requestSubmit();
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
