// Buying: the pricing page, the public sample result, and a purchase that names the pack and price before any charge.
import { h, mount } from './dom.js';
import { MODULES, productIdOf } from './mobile_purchase_integration.js';
import { confirmDialog } from './dialog.js';
import { writingResult } from './exam_writing.js';

const INCLUDED = {
  academic_writing: ['Task 1 on a chart, table, process or map, and a Task 2 essay', 'One 60-minute clock, as in the exam', 'A band for each criterion, notes on your own text'],
  general_writing: ['Task 1 letter and a Task 2 essay', 'One 60-minute clock, as in the exam', 'A band for each criterion, notes on your own text'],
  academic_speaking: ['A live three-part test with Maya, about 11 to 14 minutes', 'Part 2 cue card with a minute to prepare', 'A band for each criterion and your transcript'],
  general_speaking: ['The same three-part live test, for General Training', 'Part 2 cue card with a minute to prepare', 'A band for each criterion and your transcript'],
};

let catalogue = null;

/** GET /api/products once per page: the packs and whether this server's purchases go to the test store. */
export async function products(app) {
  if (!catalogue) catalogue = await app.api.get('/api/products');
  return catalogue;
}

const money = (usd) => `USD ${Number(usd).toFixed(2).replace(/\.00$/, '')}`;

function testStoreNote() {
  return h('p', { class: 'notice', 'data-testid': 'test-store-note' },
    h('strong', {}, 'Test store. '), 'This server sells through a test store: no money is charged, and purchases are recorded as test purchases.');
}

/** Ask before charging: the pack, what it holds and the price; resolves true to go ahead. */
export async function confirmPurchase(app, module) {
  const { products: packs, test_store: testStore } = await products(app);
  const pack = packs.find((p) => p.module === module);
  const each = pack.price_usd / pack.credits;
  return confirmDialog({
    title: 'Confirm your purchase',
    body: [
      h('dl', { class: 'summary' },
        h('dt', {}, 'Pack'), h('dd', {}, `${app.label(module)}: ${pack.credits} assessments`),
        h('dt', {}, 'Price'), h('dd', {}, `${money(pack.price_usd)} (${money(each)} per assessment)`),
        h('dt', {}, 'Account'), h('dd', {}, app.state.me.user.email)),
      testStore ? testStoreNote() : 'You pay through your app store account. Credits never expire.',
    ],
    confirm: testStore ? `Buy in the test store (${money(pack.price_usd)})` : `Buy for ${money(pack.price_usd)}`,
    focusConfirm: true,
  });
}

/** Buy one pack on the website: the local test store when the server has one; the app stores otherwise. */
export async function buyPack(app, module, onDone) {
  if (!(await confirmPurchase(app, module))) return;
  const { test_store: testStore } = await products(app);
  if (!testStore) {
    app.toast('Packs are sold in the IELTS GenAI Prep app for iPhone and Android. Credits bought there appear here.', 'info');
    return;
  }
  const productId = productIdOf(module);
  try {
    const { transaction } = await app.api.post('/api/dev/test-store/transactions', {
      product_id: productId,
      platform: 'apple',
      app_account_token: app.state.me.user.app_account_token,
    });
    // The same body cordova-plugin-purchase posts, verified by the same server path as a real purchase.
    const result = await app.api.post('/api/purchases/verify', {
      id: productId,
      type: 'application',
      transaction,
      additionalData: { applicationUsername: app.state.me.user.app_account_token },
    }, { idempotent: true });
    if (result && result.ok) {
      app.toast(`Test store purchase: 4 ${app.label(module)} assessments added to your account.`, 'success');
      onDone();
    } else {
      app.toast(`The purchase could not be confirmed: ${result?.message || 'unknown reason'}`, 'error');
    }
  } catch (e) {
    app.toast(app.errorText(e), 'error');
  }
}

export async function pricingScreen(view, app) {
  const { products: packs, test_store: testStore } = await products(app);
  const signedIn = Boolean(app.state.me);
  mount(view,
    h('h1', {}, 'Prices'),
    h('p', {}, 'Each pack holds four full mock assessments of one kind. Credits never expire, and a test that fails to be marked gives its credit back.'),
    testStore ? testStoreNote() : null,
    h('div', { class: 'grid grid-4' }, MODULES.map((module) => {
      const pack = packs.find((p) => p.module === module);
      return h('article', { class: 'card module-card', 'aria-labelledby': `price-${module}` },
        h('h2', { id: `price-${module}`, class: 'h3' }, app.label(module)),
        h('p', {}, h('span', { class: 'price' }, money(pack.price_usd)), ` for ${pack.credits} assessments`),
        h('p', { class: 'muted' }, `${money(pack.price_usd / pack.credits)} per assessment`),
        h('ul', { class: 'ticks' }, INCLUDED[module].map((line) => h('li', {}, line))),
        signedIn
          ? h('button', { type: 'button', onclick: () => buyPack(app, module, () => app.navigate('#/dashboard')) }, `Buy 4 · ${money(pack.price_usd)}`, h('span', { class: 'visually-hidden' }, `: ${app.label(module)} pack`))
          : h('a', { class: 'button', href: '#/register' }, 'Create an account to buy'));
    })),
    h('section', { class: 'card' },
      h('h2', {}, 'What you get'),
      h('p', {}, 'See a real result before you buy: a sample paper, marked by the same scorer your own answers go to.'),
      h('a', { class: 'button secondary', href: '#/sample' }, 'See a sample result')));
  return view;
}

export async function sampleScreen(view, app) {
  const sample = await app.api.get('/api/sample-result');
  const assessment = { id: 'sample', module: sample.module, status: 'scored', answers: sample.answers, result: sample.result, tasks: sample.tasks };
  await writingResult(view, assessment, app, { sample: true });
  view.prepend(
    h('p', { class: 'notice sample-banner', role: 'note' },
      h('strong', {}, 'Sample result. '), sample.about, ' ', h('a', { href: '#/pricing' }, 'See prices')));
  return view;
}
