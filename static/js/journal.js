// Progressive enhancement: the pages work without it.
// - On every page, removes the offline copies an earlier sign-in left on this browser (see static/sw.js).
// - On a patient's pages: registers the service worker, asks it to keep today's blank check-in form for this
//   sign-in, and sends the check-in with fetch. Without a connection the answers are kept on the phone, in
//   IndexedDB, encrypted with a key that only this account's pages carry and stored under its owner tag (see
//   journal/device.py), so another person on the same browser can neither read nor send them. They are sent,
//   oldest save first, when this account is signed in and online again. Each save carries a submission_id (a
//   retry is recorded once) and saved_at (the server keeps the later of two saves of one day).

// What the script tells a person, in the page's language: the words come with every page (templates/base.html
// data-words, from journal/i18n.py script_words), and "%(name)s" in them is filled in here.
var say = (function () {
  "use strict";
  var words = {};
  try { words = JSON.parse(document.body.getAttribute("data-words") || "{}"); } catch (error) { words = {}; }
  return function (key, values) {
    return (words[key] || "").replace(/%\((\w+)\)s/g, function (whole, name) {
      return values && name in values ? values[name] : whole;
    });
  };
})();

(function () {
  "use strict";
  var DB_NAME = "journal";
  var STORE = "queue";
  var PERSON_PREFIX = "journal-person-";
  var PERSON_COOKIE = "journal_person";
  var OFFLINE_FORM = "/checkin/offline-form";
  var body = document.body;
  var owner = body.getAttribute("data-queue-owner");
  var person = readCookie(PERSON_COOKIE);

  function readCookie(name) {
    var match = document.cookie.split("; ").filter(function (pair) { return pair.indexOf(name + "=") === 0; })[0];
    return match ? match.slice(name.length + 1) : null;
  }

  // A form that comes back with errors opens at its error summary (templates/_forms.html); a link in it moves the
  // focus to its field, or to the first control of a group of radio buttons.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) { return; }
    if (document.activeElement !== summary) { summary.focus(); }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!target) { return; }
      var control = target.matches("input, select, textarea, button") ? target : target.querySelector("input, select, textarea");
      if (!control) { return; }
      event.preventDefault();
      target.scrollIntoView();
      control.focus();
    });
  }

  function forgetOtherPeople(keep) {
    if (!window.caches) { return Promise.resolve(); }
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(PERSON_PREFIX) === 0 && name !== (keep ? PERSON_PREFIX + keep : null);
      }).map(function (name) { return caches.delete(name); }));
    });
  }

  forgetOtherPeople(person);
  focusErrorSummary();
  if (!owner) { return; }  // not a patient's page: nothing is queued or kept

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
    if (navigator.onLine && person && window.caches) {
      caches.open(PERSON_PREFIX + person).then(function (cache) { return cache.match(OFFLINE_FORM); }).then(function (hit) {
        if (hit && location.pathname !== "/home") { return; }  // refreshed once per visit to home
        return navigator.serviceWorker.ready.then(function (registration) {
          registration.active.postMessage({ type: "keep-offline-form" });
        });
      }).catch(function () {});
    }
  }

  // --- Encryption of what is queued (AES-GCM, the owner tag as associated data) ---------------------------
  function bytesOf(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }
  var subtle = window.crypto && window.crypto.subtle;
  var ownerBytes = new TextEncoder().encode(owner);
  var keyReady = subtle && window.indexedDB ?
    subtle.importKey("raw", bytesOf(body.getAttribute("data-queue-key")), "AES-GCM", false, ["encrypt", "decrypt"])
      .catch(function () { return null; }) : Promise.resolve(null);

  function seal(entry) {
    var iv = window.crypto.getRandomValues(new Uint8Array(12));
    var plain = new TextEncoder().encode(JSON.stringify(entry));
    return keyReady.then(function (key) {
      return subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: ownerBytes }, key, plain);
    }).then(function (data) { return { id: entry.submission_id, owner: owner, iv: iv, data: data }; });
  }

  function unseal(record) {
    return keyReady.then(function (key) {
      return subtle.decrypt({ name: "AES-GCM", iv: record.iv, additionalData: ownerBytes }, key, record.data);
    }).then(function (plain) { return JSON.parse(new TextDecoder().decode(plain)); });
  }

  // --- The queue in IndexedDB ---------------------------------------------------------------------------
  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 2);
      request.onupgradeneeded = function () {
        var db = request.result;
        // Version 1 kept answers in clear text under a user id; it is dropped, never shown to anyone.
        if (db.objectStoreNames.contains("outbox")) { db.deleteObjectStore("outbox"); }
        if (!db.objectStoreNames.contains(STORE)) {
          db.createObjectStore(STORE, { keyPath: "id" }).createIndex("owner", "owner");
        }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var request = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(request ? request.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  // This account's queued entries, decrypted, oldest save first. Nobody else's are ever read.
  function mine() {
    return keyReady.then(function (key) {
      if (!key) { return []; }
      return withStore("readonly", function (store) { return store.index("owner").getAll(owner); })
        .then(function (records) {
          return Promise.all((records || []).map(function (record) {
            return unseal(record).catch(function () { return null; });
          }));
        }).then(function (entries) {
          return entries.filter(Boolean).sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
        });
    }).catch(function () { return []; });
  }

  function drop(entry) {
    return withStore("readwrite", function (store) { store.delete(entry.submission_id); });
  }

  function longDate(isoDay) {
    var parts = isoDay.split("-").map(Number);
    var locale = document.documentElement.lang === "es" ? "es-US" : "en-GB";  // "lunes, 30 de noviembre"
    return new Date(Date.UTC(parts[0], parts[1] - 1, parts[2], 12)).toLocaleDateString(locale, {
      weekday: "long", day: "numeric", month: "long", timeZone: "UTC"
    });
  }

  function todayIn(zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date()).forEach(function (part) { parts[part.type] = part.value; });
    return parts.year + "-" + parts.month + "-" + parts.day;
  }

  // --- What the patient is told -------------------------------------------------------------------------
  var said = [];
  function announce(message) {
    said.push(message);
    return showOutbox();
  }

  function showOutbox() {
    var box = document.getElementById("outbox");
    if (!box) { return Promise.resolve(); }
    return mine().then(function (entries) {
      box.textContent = "";
      said.concat(entries.map(function (entry) {
        return say("waiting", { day: longDate(entry.day) });
      })).forEach(function (text) {
        var line = document.createElement("p");
        line.textContent = text;
        box.appendChild(line);
      });
      box.hidden = box.childNodes.length === 0;
    });
  }

  // --- Sending ------------------------------------------------------------------------------------------
  function currentCsrfToken() {
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function savedPage(response, day) {
    return response.ok && response.redirected && new URL(response.url).pathname === "/checkin/" + day + "/saved";
  }

  function send(entry) {
    var data = new FormData();
    entry.fields.forEach(function (pair) {
      data.append(pair[0], pair[0] === "csrf_token" ? currentCsrfToken() || pair[1] : pair[1]);
    });
    return fetch("/checkin/" + entry.day, { method: "POST", body: data, credentials: "same-origin" });
  }

  // What became of a sent entry: a message for the patient once the server has settled it, or null to keep it
  // and try again later. Only the check-in route's own answers settle it (X-Journal-Outcome): a sign-in page, an
  // expired form token, a busy server or another account's session leave it waiting for its owner.
  function outcomeOf(response, entry) {
    var day = longDate(entry.day);
    if (savedPage(response, entry.day)) { return say("sent", { day: day }); }
    var outcome = response.redirected ? null : response.headers.get("X-Journal-Outcome");
    if (outcome === "stale") { return say("stale", { day: day }); }
    if (outcome === "locked") { return say("too_late", { day: day }); }
    if (outcome === "invalid") { return say("invalid", { day: day }); }
    return null;
  }

  // navigator.onLine can be wrong both ways: true with no network (a captive portal, a weak signal, and in
  // Chromium 150 a page the service worker served while offline), or the "online" event can come before the
  // network carries requests. So a save that could not reach the server while the phone said it was online is
  // tried again after 1 and 2 seconds, then every 3 seconds while the page stays open. With no network a fetch
  // fails at once, on the phone, so the retries cost nothing on the wire.
  var FIRST_RETRY_MS = 1000, LAST_RETRY_MS = 3000;
  var retryIn = FIRST_RETRY_MS, retryTimer = null;
  function retryLater() {
    if (retryTimer !== null || !navigator.onLine) { return; }
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, retryIn);
    retryIn = Math.min(retryIn * 2, LAST_RETRY_MS);
  }

  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine) { return Promise.resolve(); }
    flushing = true;
    var unreachable = false;
    return mine().then(function (entries) {
      return entries.reduce(function (chain, entry) {
        return chain.then(function (goOn) {
          if (!goOn) { return false; }
          return send(entry).then(function (response) {
            retryIn = FIRST_RETRY_MS;
            var message = outcomeOf(response, entry);
            if (message === null) { return false; }  // signed out or the server busy: keep it, stop for now
            return drop(entry).then(function () { return announce(message); }).then(function () { return true; });
          }, function () { unreachable = true; return false; });  // no connection after all
        });
      }, Promise.resolve(true));
    }).then(showOutbox).finally(function () {
      flushing = false;
      if (unreachable) { retryLater(); }
    });
  }

  function keepOnPhone(form) {
    var fields = [];
    new FormData(form).forEach(function (value, key) { fields.push([key, String(value)]); });
    var entry = {
      submission_id: form.elements.submission_id.value,
      day: form.getAttribute("data-day"),
      saved_at: form.elements.saved_at.value,
      fields: fields
    };
    return seal(entry).then(function (record) {
      return withStore("readwrite", function (store) { store.put(record); });
    }).then(function () {
      form.hidden = true;
      var note = document.getElementById("offline-form-note");
      if (note) { note.hidden = true; }
      return showOutbox();
    }, function () { form.submit(); });
  }

  function newSubmissionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  var form = document.querySelector("form[data-offline-queue]");
  if (form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !subtle || !window.indexedDB) { return; }  // the plain form post still works
      event.preventDefault();
      // A new id each time the patient saves: a copy of this page kept by the back button still carries the id
      // of an earlier save, and the server would take changed answers sent with it for a repeat of that save.
      form.elements.submission_id.value = newSubmissionId();
      form.elements.saved_at.value = new Date().toISOString();
      if (form.hasAttribute("data-offline-form")) {  // the kept blank form: the day is the one it is saved on
        var day = todayIn(form.getAttribute("data-timezone"));
        form.setAttribute("data-day", day);
        form.action = "/checkin/" + day;
      }
      if (!navigator.onLine) { keepOnPhone(form); return; }
      var button = form.querySelector('button[type="submit"]');
      if (button) { button.disabled = true; }
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" }).then(
        function (response) {
          if (savedPage(response, form.getAttribute("data-day"))) { window.location.assign(response.url); }
          else { form.submit(); }  // let the server's page say what happened (errors, a newer answer kept)
        },
        function () { keepOnPhone(form).then(retryLater); }
      );
    });
  }

  // Sign-out: what is still waiting on this phone is deleted with it, so say so first.
  var signOut = document.querySelector('form[action="/logout"]');
  if (signOut) {
    signOut.addEventListener("submit", function (event) {
      event.preventDefault();
      mine().then(function (entries) {
        if (entries.length) {
          var days = entries.map(function (entry) { return longDate(entry.day); }).join(", ");
          var question = say(entries.length === 1 ? "sign_out_one" : "sign_out_many",
            { count: String(entries.length), days: days });
          if (!window.confirm(question)) { return; }
        }
        return Promise.all(entries.map(drop)).then(function () { return forgetOtherPeople(null); }).then(function () {
          if (navigator.onLine) { signOut.submit(); return; }
          // Offline the server cannot be told; without its person cookie this sign-in ends at the next request.
          document.cookie = PERSON_COOKIE + "=; Max-Age=0; path=/; SameSite=Lax";
          window.location.assign("/offline");
        });
      });
    });
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
    status.textContent = say("no_push");
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
      if (permission !== "granted") { throw new Error(say("push_refused")); }
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
      if (!response.ok) { throw new Error(say("push_not_saved")); }
      status.textContent = say("push_on");
    }).catch(function (error) {
      status.textContent = error.message || say("push_failed");
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
