// Service worker: keeps the app shell so the journal opens without a connection.
// Pages: network first, falling back to the last copy seen; static files: cache first.
var SHELL = "journal-shell-v4";
var PAGES = "journal-pages";
var SHELL_FILES = ["/static/app.css", "/static/js/journal.js", "/static/icon.svg", "/offline"];
var HOME = "/home";  // the manifest's start_url

self.addEventListener("install", function (event) {
  event.waitUntil(Promise.all([
    caches.open(SHELL).then(function (cache) { return cache.addAll(SHELL_FILES); }),
    // The home page too: the page that registers this worker loaded before it, so without this a patient who
    // checks in offline in their first session (or opens the installed app offline) finds no home page.
    fetch(HOME).then(function (response) {
      if (response.ok && !response.redirected) {
        return caches.open(PAGES).then(function (cache) { return cache.put(HOME, response); });
      }
    }).catch(function () { /* not signed in or no connection: it is kept on the next visit instead */ })
  ]));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name !== SHELL && name !== PAGES; })
        .map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

// Only HTML pages are kept for offline use (they are cleared at sign-out), never a download such as an
// export or a report: those carry a Content-Disposition and are not HTML.
function keepsOffline(response) {
  var type = response.headers.get("Content-Type") || "";
  return response.ok && !response.redirected && type.indexOf("text/html") === 0 &&
    !response.headers.get("Content-Disposition");
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) {
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).then(function (response) {
        if (keepsOffline(response)) {
          var copy = response.clone();
          caches.open(PAGES).then(function (cache) { cache.put(url.pathname, copy); });
        }
        return response;
      }).catch(function () {
        return caches.match(url.pathname, { cacheName: PAGES }).then(function (hit) {
          return hit || caches.match("/offline");
        });
      })
    );
  }
});

// Web Push: show the neutral reminder; a tap opens the link (which leads to the check-in after sign-in).
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
