// Progressive enhancement for patient pages: the pages work without it.
// - shows the PHQ-9's difficulty question only once a problem has been checked off (PHQ-R8);
// - registers the service worker that keeps the app shell for offline use;
// - sends the check-in form with fetch, and when there is no connection keeps it on the phone (IndexedDB)
//   until the connection returns. Each form carries a submission_id, so the server records it once even
//   if it arrives twice.
(function () {
  "use strict";
  var DB_NAME = "journal";
  var STORE = "outbox";
  var body = document.body;
  var userId = body.getAttribute("data-user");

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  }

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "submission_id" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  function queued() {
    return withStore("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).filter(function (item) { return item.user === userId; });
    });
  }

  function showOutbox() {
    var box = document.getElementById("outbox");
    if (!box) { return Promise.resolve(); }
    return queued().then(function (items) {
      box.textContent = "";
      box.hidden = items.length === 0;
      items.forEach(function (item) {
        var line = document.createElement("p");
        line.textContent = "Check-in for " + item.label + " is saved on this phone and waiting to be sent.";
        box.appendChild(line);
      });
    });
  }

  function currentCsrfToken() {
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function send(item) {
    var data = new FormData();
    item.fields.forEach(function (pair) {
      data.append(pair[0], pair[0] === "csrf_token" ? currentCsrfToken() || pair[1] : pair[1]);
    });
    return fetch(item.action, { method: "POST", body: data, credentials: "same-origin" });
  }

  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine || !userId) { return Promise.resolve(); }
    flushing = true;
    return queued().then(function (items) {
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          return send(item).then(function (response) {
            // Delivered (or recognised as already delivered): drop it. A refusal (4xx) is kept out of
            // the queue too, but said plainly: the patient can enter that day again.
            if (!response.ok && response.status < 500) {
              announce("A check-in saved on this phone for " + item.label + " was not accepted. Please enter it again.");
            }
            if (response.ok || response.status < 500) {
              return withStore("readwrite", function (store) { store.delete(item.submission_id); });
            }
          }, function () { /* still offline: keep it */ });
        });
      }, Promise.resolve());
    }).then(showOutbox).finally(function () { flushing = false; });
  }

  function announce(message) {
    var box = document.getElementById("outbox");
    if (!box) { return; }
    var line = document.createElement("p");
    line.textContent = message;
    box.hidden = false;
    box.appendChild(line);
  }

  function keepOnPhone(form) {
    var fields = [];
    new FormData(form).forEach(function (value, key) { fields.push([key, String(value)]); });
    var item = {
      submission_id: form.elements.submission_id.value,
      user: userId,
      action: form.action,
      label: form.getAttribute("data-day-label"),
      fields: fields,
      queued_at: new Date().toISOString()
    };
    return withStore("readwrite", function (store) { store.put(item); }).then(function () {
      window.location.assign("/home?queued=1");
    });
  }

  function newSubmissionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  var form = document.querySelector("form[data-offline-queue]");
  if (form) {
    form.addEventListener("submit", function (event) {
      if (!window.indexedDB || !window.fetch) { return; }  // the plain form post still works
      event.preventDefault();
      // A new id each time the patient saves. The copy of this page that the service worker (or the back
      // button) keeps still carries the id of an earlier save, and the server would take changed answers
      // sent with it for a repeat of that save and keep the old ones. A retry of this save keeps this id.
      form.elements.submission_id.value = newSubmissionId();
      if (!navigator.onLine) { keepOnPhone(form); return; }
      var button = form.querySelector('button[type="submit"]');
      if (button) { button.disabled = true; }
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" }).then(
        function (response) {
          if (response.ok && response.redirected) { window.location.assign(response.url); }
          else { form.submit(); }  // let the server's page show what to fix
        },
        function () { keepOnPhone(form); }
      );
    });
  }

  var signOut = document.querySelector('form[action="/logout"]');
  if (signOut && window.caches) {
    signOut.addEventListener("submit", function () { caches.delete("journal-pages"); });
  }

  window.addEventListener("online", flush);
  showOutbox().then(flush);
})();

// Notifications on this device (settings page): subscribe with the server's VAPID key and register it.
(function () {
  "use strict";
  var button = document.getElementById("enable-push");
  var status = document.getElementById("push-status");
  if (!button) { return; }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    status.textContent = "This browser cannot show notifications from the journal.";
    button.disabled = true;
    return;
  }
  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }
  button.addEventListener("click", function () {
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { throw new Error("Notifications are not allowed for this app."); }
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: keyBytes(button.getAttribute("data-key"))
      });
    }).then(function (subscription) {
      var token = document.querySelector('input[name="csrf_token"]');
      return fetch(button.getAttribute("data-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify(subscription.toJSON())
      });
    }).then(function (response) {
      if (!response.ok) { throw new Error("The journal could not save this device."); }
      status.textContent = "Notifications are on for this device. Tick 'Notification on my devices' above and save.";
    }).catch(function (error) {
      status.textContent = error.message || "Notifications could not be turned on.";
    });
  });
})();

// PHQ-R8: the difficulty question is asked "if you checked off any problems". Without JavaScript it is
// always shown (with that wording) and the server stores "not applicable" when every answer is 0.
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire");
  var difficulty = form && form.querySelector("[data-difficulty]");
  if (!difficulty) { return; }
  function update() {
    var checked = form.querySelectorAll('input[type="radio"][name^="item-"]:checked');
    var anyProblem = Array.prototype.some.call(checked, function (input) { return input.value !== "0"; });
    difficulty.hidden = !anyProblem;
    if (!anyProblem) {
      Array.prototype.forEach.call(difficulty.querySelectorAll("input"), function (input) { input.checked = false; });
    }
  }
  form.addEventListener("change", update);
  update();
})();
