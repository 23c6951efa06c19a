// node --test: the purchase flow of mobile_purchase_integration.js against a scripted CdvPurchase store object
// (behaving as cordova-plugin-purchase v13 does: approved -> verify POSTs to the validator -> verified/unverified)
// and a validator on loopback.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, test } from 'node:test';

import { MODULES, moduleOf, productIdOf, setUpPurchases } from './mobile_purchase_integration.js';

const ErrorCode = { PAYMENT_CANCELLED: 6777006, COMMUNICATION: 6777014, VERIFICATION_FAILED: 6777017 };
const Platform = { APPLE_APPSTORE: 'ios-appstore', GOOGLE_PLAY: 'android-playstore' };
const ProductType = { CONSUMABLE: 'consumable' };

/** A scripted stand-in for CdvPurchase.store with the v13 validator contract (HTTP 200 only, ok/data or ok:false). */
function fakePlugin({ orderError = null } = {}) {
  const handlers = { approved: [], verified: [], unverified: [], finished: [] };
  const errors = [];
  const log = { registered: [], initialized: null, finished: [], posts: [] };
  const store = {
    register: (products) => log.registered.push(...products),
    initialize: async (platforms) => {
      log.initialized = platforms;
      return [];
    },
    when() {
      const chain = {};
      for (const name of Object.keys(handlers)) {
        chain[name] = (fn) => {
          handlers[name].push(fn);
          return chain;
        };
      }
      return chain;
    },
    error: (fn) => errors.push(fn),
    get: (id) => ({
      id,
      getOffer: () => ({
        order: async () => {
          if (orderError) return orderError;
          store.approve(id);
          return undefined;
        },
      }),
    }),
    /** What the native side does when the store approved a payment. */
    approve(productId, platform = Platform.APPLE_APPSTORE) {
      const transaction = {
        transactionId: `tx-${productId}`,
        platform,
        products: [{ id: productId }],
        verify: () => verify(transaction),
        finish: async () => log.finished.push(transaction.transactionId),
      };
      log.verifying = Promise.all(handlers.approved.map((fn) => fn(transaction)));
    },
  };
  async function verify(transaction) {
    const validator = store.validator;
    const username = typeof store.applicationUsername === 'function' ? store.applicationUsername() : store.applicationUsername;
    const body = {
      id: transaction.products[0].id,
      type: 'application',
      transaction: { type: 'apple-sk2', id: transaction.products[0].id, jwsRepresentation: 'eyJ.jws.sig' },
      additionalData: { applicationUsername: username },
    };
    let payload;
    try {
      const response = await fetch(validator.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json;charset=UTF-8', ...validator.headers },
        body: JSON.stringify(body),
      });
      log.posts.push(body);
      payload =
        response.status === 200
          ? await response.json()
          : { ok: false, code: ErrorCode.COMMUNICATION, message: `HTTP ${response.status}` };
    } catch (error) {
      payload = { ok: false, code: ErrorCode.COMMUNICATION, message: String(error) };
    }
    if (payload.ok) {
      const receipt = {
        id: payload.data.id,
        sourceReceipt: { transactions: [transaction] },
        collection: payload.data.collection,
        finish: () => transaction.finish(),
      };
      for (const fn of handlers.verified) await fn(receipt);
    } else {
      for (const fn of handlers.unverified) fn({ receipt: transaction, payload });
    }
  }
  return { CdvPurchase: { store, ErrorCode, Platform, ProductType }, store, log, raiseError: (e) => errors.forEach((fn) => fn(e)) };
}

let server;
let baseUrl;
let answer;
const seen = [];

before(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      seen.push({ url: req.url, auth: req.headers.authorization, body: JSON.parse(raw) });
      const [status, payload] = answer(req, JSON.parse(raw));
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

beforeEach(() => {
  seen.length = 0;
  // Like the real validator: credit only a signed-in caller, always HTTP 200.
  answer = (req, body) =>
    req.headers.authorization === 'Bearer session-token'
      ? [200, { ok: true, data: { id: body.id, transaction: body.transaction, collection: [{ id: body.id, transactionId: 't1', isConsumed: true, isAcknowledged: true }] } }]
      : [200, { ok: false, code: ErrorCode.VERIFICATION_FAILED, status: 401, message: 'sign in first' }];
});

function setUp(plugin, overrides = {}) {
  const toasts = [];
  const credited = [];
  const purchases = setUpPurchases({
    CdvPurchase: plugin.CdvPurchase,
    apiBaseUrl: baseUrl,
    token: () => 'session-token',
    appAccountToken: '4b0c6a52-3c4e-4f7e-9d1e-2f8a4d3b9c10',
    toast: (text, kind) => toasts.push({ text, kind }),
    onCredited: (receipt) => credited.push(receipt.id),
    ...overrides,
  });
  return { purchases, toasts, credited };
}


test('the four consumable packs are registered for both stores and both stores are initialised', async () => {
  const plugin = fakePlugin();
  const { purchases } = setUp(plugin);
  await purchases.ready;
  assert.equal(plugin.log.registered.length, 8);
  for (const module of MODULES) {
    const entries = plugin.log.registered.filter((p) => p.id === productIdOf(module));
    assert.deepEqual(entries.map((p) => p.platform).sort(), ['android-playstore', 'ios-appstore']);
    assert.ok(entries.every((p) => p.type === 'consumable'));
  }
  assert.deepEqual(plugin.log.initialized, ['ios-appstore', 'android-playstore']);
  assert.equal(moduleOf('com.ieltsgenaiprep.general_speaking'), 'general_speaking');
});

test('approved -> verified by the server with the bearer token and the account token -> finished, with a toast', async () => {
  const plugin = fakePlugin();
  const { purchases, toasts, credited } = setUp(plugin);
  assert.equal(await purchases.buy('academic_writing'), true);
  await plugin.log.verifying;
  assert.equal(seen.length, 1);
  assert.equal(seen[0].url, '/api/purchases/verify');
  assert.equal(seen[0].auth, 'Bearer session-token');
  assert.equal(seen[0].body.additionalData.applicationUsername, '4b0c6a52-3c4e-4f7e-9d1e-2f8a4d3b9c10');
  assert.deepEqual(plugin.log.finished, ['tx-com.ieltsgenaiprep.academic_writing']);
  assert.deepEqual(credited, ['com.ieltsgenaiprep.academic_writing']);
  assert.equal(plugin.store.obfuscator, 'uuid');
  assert.deepEqual(toasts.map((t) => t.kind), ['info', 'success']);
  assert.match(toasts[1].text, /4 Academic Writing assessments added/);
});

test('a refusal by the server is not finished and tells the user to sign in again on 401', async () => {
  const plugin = fakePlugin();
  const { purchases, toasts, credited } = setUp(plugin, { token: () => null });
  await purchases.buy('general_speaking');
  await plugin.log.verifying;
  assert.equal(seen[0].auth, undefined, 'no session, no header');
  assert.deepEqual(plugin.log.finished, [], 'an unverified transaction stays open so it can be verified later');
  assert.deepEqual(credited, []);
  assert.equal(toasts.at(-1).kind, 'error');
  assert.match(toasts.at(-1).text, /sign in again/);
});

test('a verification failure shows the server message', async () => {
  answer = () => [200, { ok: false, code: ErrorCode.VERIFICATION_FAILED, message: 'this purchase belongs to another account' }];
  const plugin = fakePlugin();
  const { purchases, toasts } = setUp(plugin);
  await purchases.buy('academic_speaking');
  await plugin.log.verifying;
  assert.deepEqual(plugin.log.finished, []);
  assert.match(toasts.at(-1).text, /belongs to another account/);
});

test('a validator that cannot be reached leaves the purchase for a retry and says so', async () => {
  answer = () => [502, { message: 'bad gateway' }];
  const plugin = fakePlugin();
  const { purchases, toasts } = setUp(plugin);
  await purchases.buy('general_writing');
  await plugin.log.verifying;
  assert.deepEqual(plugin.log.finished, []);
  assert.match(toasts.at(-1).text, /will be retried/);
});

test('the token and the API base are read at verification time: a login after start-up is used', async () => {
  let current = null;
  const plugin = fakePlugin();
  const { purchases } = setUp(plugin, { token: () => current, apiBaseUrl: () => baseUrl });
  current = 'session-token';
  await purchases.buy('academic_writing');
  await plugin.log.verifying;
  assert.equal(seen[0].auth, 'Bearer session-token');
  assert.equal(plugin.log.finished.length, 1);
});

test('a cancelled order says so quietly; store errors other than cancel are shown', async () => {
  const plugin = fakePlugin({ orderError: { code: ErrorCode.PAYMENT_CANCELLED, message: 'cancelled' } });
  const { purchases, toasts } = setUp(plugin);
  assert.equal(await purchases.buy('academic_writing'), false);
  assert.deepEqual(toasts, [{ text: 'Purchase cancelled.', kind: 'info' }]);
  plugin.raiseError({ code: ErrorCode.PAYMENT_CANCELLED, message: 'x' });
  assert.equal(toasts.length, 1);
  plugin.raiseError({ code: 6777010, message: 'store unavailable' });
  assert.match(toasts.at(-1).text, /store unavailable/);
  await assert.rejects(purchases.buy('listening'), /unknown module/);
});
