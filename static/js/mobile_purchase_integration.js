// In-app purchases in the Capacitor app through cordova-plugin-purchase v13 (the global `CdvPurchase`).
// Flow: register the four consumable packs on both stores, bind purchases to the account (applicationUsername =
// the account's app_account_token), approved -> verify on our server (/api/purchases/verify, authenticated with the
// bearer token) -> finish. Credits are granted by the server only; the client never trusts the store callback.

export const MODULES = Object.freeze(['academic_writing', 'general_writing', 'academic_speaking', 'general_speaking']);
export const PRODUCT_PREFIX = 'com.ieltsgenaiprep.';
export const productIdOf = (module) => PRODUCT_PREFIX + module;
export const moduleOf = (productId) =>
  typeof productId === 'string' && productId.startsWith(PRODUCT_PREFIX) ? productId.slice(PRODUCT_PREFIX.length) : null;

// Error codes of cordova-plugin-purchase (CdvPurchase.ErrorCode), used when the plugin object does not carry them.
const PAYMENT_CANCELLED = 6777006;
const VERIFICATION_FAILED = 6777017;

/** A readable sentence for the outcome of a verification the server refused. */
export function refusalMessage(payload) {
  const status = payload && payload.status;
  if (status === 401) return 'Please sign in again, then restore your purchase.';
  if (payload && payload.message) return `The purchase could not be confirmed: ${payload.message}`;
  return 'The purchase could not be confirmed. Nothing was charged twice; try again later.';
}

/**
 * Wire the store. Returns {ready, buy(module), refresh()}.
 * @param {object} options
 * @param {object} options.CdvPurchase the plugin namespace (window.CdvPurchase in the app)
 * @param {string|(() => string)} options.apiBaseUrl base URL of the API (read per verification: the region may change)
 * @param {() => string|null} options.token the bearer token of the signed-in account
 * @param {string|(() => string)} options.appAccountToken the account's app_account_token (from GET /api/me)
 * @param {(text: string, kind: 'info'|'success'|'error') => void} options.toast
 * @param {(data: object) => void} [options.onCredited] called after the server credited a pack
 * @param {string[]} [options.platforms] platform ids to initialise (default: both stores)
 */
export function setUpPurchases({
  CdvPurchase,
  apiBaseUrl,
  token,
  appAccountToken,
  toast,
  onCredited = () => {},
  platforms,
  timeoutMs = 20000,
}) {
  const { store, ProductType, Platform } = CdvPurchase;
  const errorCodes = CdvPurchase.ErrorCode || {};
  const cancelled = errorCodes.PAYMENT_CANCELLED ?? PAYMENT_CANCELLED;
  const verificationFailed = errorCodes.VERIFICATION_FAILED ?? VERIFICATION_FAILED;
  const stores = platforms || [Platform.APPLE_APPSTORE, Platform.GOOGLE_PLAY];

  store.register(
    MODULES.flatMap((module) =>
      stores.map((platform) => ({ id: productIdOf(module), type: ProductType.CONSUMABLE, platform })),
    ),
  );
  // The server binds each purchase to this account; the 'uuid' obfuscator sends the same UUID form to both stores.
  store.applicationUsername = () => (typeof appAccountToken === 'function' ? appAccountToken() : appAccountToken);
  store.obfuscator = 'uuid';
  // A function so a token refreshed after login is used for every verification, not the one seen at start-up.
  Object.defineProperty(store, 'validator', {
    configurable: true,
    enumerable: true,
    get: () => {
      const current = token();
      return {
        url: `${typeof apiBaseUrl === 'function' ? apiBaseUrl() : apiBaseUrl}/api/purchases/verify`,
        headers: current ? { Authorization: `Bearer ${current}` } : {},
        timeout: timeoutMs,
      };
    },
  });

  store
    .when()
    .approved((transaction) => {
      toast('Payment approved. Confirming your purchase...', 'info');
      return transaction.verify();
    })
    .verified((receipt) => {
      const module = moduleOf(receipt.id) || moduleOf(receipt.sourceReceipt?.transactions?.[0]?.products?.[0]?.id);
      toast(module ? `4 ${label(module)} assessments added to your account.` : 'Purchase confirmed.', 'success');
      onCredited(receipt);
      return receipt.finish();
    })
    .unverified((result) => {
      const payload = result && result.payload;
      if (payload && payload.code !== undefined && payload.code !== verificationFailed && !payload.status) {
        // The validator could not be reached: the plugin keeps the transaction and retries later.
        toast('We could not reach the server to confirm your purchase. It will be retried.', 'error');
        return;
      }
      toast(refusalMessage(payload), 'error');
    });

  store.error((error) => {
    if (!error || error.code === cancelled) return;
    toast(`Store error: ${error.message || 'unknown error'}`, 'error');
  });

  const ready = Promise.resolve(store.initialize(stores));

  return {
    ready,
    /** Start buying one pack of `module`. Resolves when the store took the order (or refused it). */
    async buy(module) {
      await ready;
      if (!MODULES.includes(module)) throw new Error(`unknown module ${module}`);
      const product = store.get(productIdOf(module));
      const offer = product && product.getOffer && product.getOffer();
      if (!offer) {
        toast('This pack is not available in the store right now.', 'error');
        return false;
      }
      const error = await offer.order();
      if (error) {
        if (error.code === cancelled) toast('Purchase cancelled.', 'info');
        else toast(`The purchase did not go through: ${error.message || 'store error'}`, 'error');
        return false;
      }
      return true;
    },
    /** Ask the store for transactions left unfinished (an interrupted purchase is verified and credited again). */
    refresh() {
      return store.update ? store.update() : undefined;
    },
  };
}

export function label(module) {
  return {
    academic_writing: 'Academic Writing',
    general_writing: 'General Training Writing',
    academic_speaking: 'Academic Speaking',
    general_speaking: 'General Training Speaking',
  }[module] || module;
}
