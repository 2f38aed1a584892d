// Service worker. Phones are shared, so it keeps nothing of one person where another could see it:
// - the public shell (styles, script, icon, the offline page and /help with the crisis numbers), fetched
//   without cookies, so it is the same for everyone; stored once in the browser's language, so the offline page
//   says its few words in every language the journal speaks (the next person may read the other one);
// - for a signed-in patient only, today's blank check-in form, in a cache named for that sign-in (the person
//   cookie, see journal/device.py). Every other person's cache is deleted on the next page load, and all of them
//   when nobody is signed in, when a page answers with the sign-in page or a 401, or when the cookie is gone.
// Pages are never stored as they are browsed: every page says Cache-Control: no-store, and that is honoured.
var SHELL = "journal-shell-v6";  // v6: the offline page in every language
var PERSON_PREFIX = "journal-person-";
var PERSON_COOKIE = "journal_person";
var OFFLINE_FORM = "/checkin/offline-form";
var refreshing = null;  // the refresh of the kept form under way, if any (see "message")
var SHELL_FILES = ["/static/app.css", "/static/js/journal.js", "/static/icon.svg", "/offline", "/help"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return cache.addAll(SHELL_FILES.map(function (path) { return new Request(path, { credentials: "omit" }); }));
  }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  // Earlier versions kept every page in "journal-pages": those copies go now, with any older shell.
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name !== SHELL && name.indexOf(PERSON_PREFIX) !== 0; })
        .map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

// The sign-in this browser holds now, or null. Without the Cookie Store API the worker cannot tell who is
// signed in, so it keeps nothing for anyone (the shell still works offline).
function currentPerson() {
  if (!self.cookieStore) { return Promise.resolve(null); }
  return self.cookieStore.get(PERSON_COOKIE).then(function (cookie) {
    return cookie && cookie.value ? cookie.value : null;
  }, function () { return null; });
}

function forgetAllBut(person) {
  var keep = person ? PERSON_PREFIX + person : null;
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf(PERSON_PREFIX) === 0 && name !== keep; })
      .map(function (name) { return caches.delete(name); }));
  });
}

function signedOut(response) {
  return response.status === 401 || (response.redirected && new URL(response.url).pathname === "/login");
}

// Waits for ``promise`` (if any) to settle, but no longer than ``ms``.
function settled(promise, ms) {
  if (!promise) { return Promise.resolve(); }
  return Promise.race([promise, new Promise(function (resolve) { setTimeout(resolve, ms); })]);
}

// While a refresh of the kept form is being written its old copy is briefly absent (see "message" below), so
// the offline answer waits for it rather than showing "No connection" to a patient whose form is kept.
function offlineAnswer(path, person) {
  var shell = path === "/help" ? "/help" : "/offline";
  var wantsForm = person && /^\/checkin(\/\d{4}-\d{2}-\d{2})?$/.test(path);
  var form = wantsForm ? settled(refreshing, 3000).then(function () {
    return caches.open(PERSON_PREFIX + person).then(function (cache) { return cache.match(OFFLINE_FORM); });
  }) : Promise.resolve(null);
  return form.then(function (hit) { return hit || caches.match(shell, { cacheName: SHELL }); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) {
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request, { cacheName: SHELL }).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (request.mode !== "navigate") { return; }
  event.respondWith(currentPerson().then(function (person) {
    return forgetAllBut(person).then(function () {
      return fetch(request).then(function (response) {
        if (signedOut(response)) { return forgetAllBut(null).then(function () { return response; }); }
        return response;
      }, function () { return offlineAnswer(url.pathname, person); });
    });
  }));
});

// A page asks for today's blank form to be kept for its sign-in (journal.js, on a patient's pages when online).
// One refresh at a time, and the copy is replaced only once the new one has fully arrived: Chromium's Cache.put
// removes the old entry before it writes the new body (measured: a match during the write misses), so putting
// a response still streaming in would leave no form at all if the connection dropped mid-way.
function keepOfflineForm(person) {
  return fetch(OFFLINE_FORM, { credentials: "same-origin" }).then(function (response) {
    if (signedOut(response)) { return forgetAllBut(null); }
    if (!response.ok || response.redirected) { return; }
    return response.blob().then(function (body) {
      // Kept on purpose despite its no-store: only in this sign-in's cache, deleted with it.
      var copy = new Response(body, { status: response.status, headers: response.headers });
      return caches.open(PERSON_PREFIX + person).then(function (cache) { return cache.put(OFFLINE_FORM, copy); });
    });
  });
}

self.addEventListener("message", function (event) {
  if (!event.data || event.data.type !== "keep-offline-form") { return; }
  if (!refreshing) {
    refreshing = currentPerson().then(function (person) {
      if (!person) { return forgetAllBut(null); }
      return forgetAllBut(person).then(function () { return keepOfflineForm(person); });
    }).catch(function () { /* no connection: the copy kept earlier stays */ })
      .then(function () { refreshing = null; });
  }
  event.waitUntil(refreshing);
});

// Web Push: show the neutral reminder; a tap opens the link (which leads to the check-in after sign-in). The title
// and body come in the patient's language (journal/outbox.py); the English below is only for a payload that
// could not be read, which the journal never sends.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "Journal", {
    body: data.body || "You have a new check-in",
    icon: "/static/icon.svg",
    data: { url: data.url || "/checkin" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/checkin";
  event.waitUntil(self.clients.openWindow(url));
});
