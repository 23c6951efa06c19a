// Service worker: the website keeps working without a connection. Network first (so a deploy is seen at once),
// the last good copy of each app file when the network fails. API calls and the WebSocket are never cached.
const CACHE = 'ieltsprep-shell-v2';
const SHELL = [
  './',
  'index.html',
  'css/app.css',
  'js/app.js',
  'js/dom.js',
  'js/legal.js',
  'js/progress_chart.js',
  'js/exam_writing.js',
  'js/exam_speaking.js',
  'js/speaking_result.js',
  'js/speaking_room.js',
  'js/paper_clock.js',
  'js/dialog.js',
  'js/shop.js',
  'js/mobile_api_client.js',
  'js/mobile_purchase_integration.js',
  'js/pcm_capture_worklet.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/ws') return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || caches.match('index.html'))),
  );
});
