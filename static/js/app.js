// The single-page app: hash routing, the session, the shared chrome (nav, toasts) and the account screens.
import { h, mount } from './dom.js';
import { ApiClient, ApiError, PRODUCTION_BASE_URLS, tokenStore } from './mobile_api_client.js';
import { MODULES, label, setUpPurchases } from './mobile_purchase_integration.js';
import { progressChart } from './progress_chart.js';
import { legalScreen } from './legal.js';
import { writingExam, writingResult } from './exam_writing.js';
import { speakingResult } from './exam_speaking.js';
import { speakingExam } from './speaking_room.js';
import { buyPack, confirmPurchase, pricingScreen, sampleScreen } from './shop.js';

const isNativeApp = Boolean(globalThis.Capacitor?.isNativePlatform?.());

// The web app talks to the origin that served it with the HttpOnly session cookie; the app picks a region and
// keeps a bearer token.
const api = isNativeApp
  ? new ApiClient({ baseUrls: PRODUCTION_BASE_URLS, tokens: tokenStore(globalThis.localStorage) })
  : new ApiClient({ baseUrls: { here: location.origin }, credentials: 'include' });

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const toastRegion = document.getElementById('toasts');

const state = { me: null, purchases: null };

/**
 * A short message under the header, read out by screen readers. It sits in the page flow (it never covers a
 * control), goes away by itself and can be dismissed at once.
 */
export function toast(text, kind = 'info') {
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss message' }, '×');
  const el = h('div', { class: `toast ${kind}`, 'data-shown': String(Date.now()) }, h('span', {}, text), close);
  close.addEventListener('click', () => el.remove());
  toastRegion.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 5000);
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** The signed-in user and credits (GET /api/me), or null. */
async function loadMe() {
  try {
    state.me = await api.get('/api/me');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) state.me = null;
    else throw error;
  }
  if (isNativeApp && state.me && !state.purchases && globalThis.CdvPurchase) {
    // The store is wired once, after the first sign-in; the account token is read at each purchase.
    state.purchases = setUpPurchases({
      CdvPurchase: globalThis.CdvPurchase,
      apiBaseUrl: () => api.baseUrl,
      token: () => api.token,
      appAccountToken: () => state.me?.user.app_account_token,
      toast,
      onCredited: () => route(),
    });
  }
  return state.me;
}

function renderNav(current) {
  const link = (href, text) => h('a', { href, 'aria-current': current === href ? 'page' : null }, text);
  const items = state.me
    ? [link('#/dashboard', 'Dashboard'), link('#/pricing', 'Prices'), link('#/profile', 'Profile'), h('button', { type: 'button', onclick: signOut }, 'Sign out')]
    : [link('#/', 'Home'), link('#/pricing', 'Prices'), link('#/login', 'Sign in'), link('#/register', 'Register')];
  mount(nav, items);
}

async function signOut() {
  try {
    await api.logout();
  } catch {
    // The session may already be gone; the user is signed out either way.
  }
  state.me = null;
  toast('You are signed out.');
  navigate('#/');
}

function errorText(error) {
  if (error instanceof ApiError) return error.message;
  return 'The server could not be reached. Check your connection and try again.';
}

function field(id, text, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, text), input, hint ? h('p', { class: 'muted', id: `${id}-hint` }, hint) : null);
}

function formError() {
  return h('p', { class: 'error-text', role: 'alert', hidden: true });
}

function showError(el, text) {
  el.textContent = text;
  el.hidden = false;
}

// ---------------------------------------------------------------------------------------------------------------
// Screens

const MODULE_TEXT = {
  academic_writing: 'Task 1 describes a chart or diagram, Task 2 is an essay. Timed, with a live word count.',
  general_writing: 'Task 1 is a letter, Task 2 is an essay. Timed, with a live word count.',
  academic_speaking: 'A live spoken test with Maya, our AI examiner: interview, cue card and discussion.',
  general_speaking: 'The same three-part speaking test, for General Training candidates.',
};

function home() {
  return [
    h('section', { class: 'hero' },
      h('h1', {}, 'Mock IELTS Writing and Speaking, marked in minutes'),
      h('p', {}, 'Take a full, timed practice test and get a band for every official criterion, feedback you can act on and notes on your own words.'),
      h('div', { class: 'actions' },
        state.me ? h('a', { class: 'button', href: '#/dashboard' }, 'Go to your dashboard')
          : [h('a', { class: 'button', href: '#/register' }, 'Create a free account'), h('a', { class: 'button secondary', href: '#/login' }, 'Sign in')])),
    h('h2', {}, 'Four assessments to choose from'),
    h('div', { class: 'grid grid-4' }, MODULES.map((module) =>
      h('article', { class: 'card module-card' },
        h('h3', {}, label(module)),
        h('p', {}, MODULE_TEXT[module]),
        h('p', {}, h('span', { class: 'price' }, 'USD 36'), ' for a pack of 4 assessments')))),
    h('p', { class: 'actions' }, h('a', { class: 'button secondary', href: '#/pricing' }, 'Prices and packs'), h('a', { class: 'button secondary', href: '#/sample' }, 'See a sample result')),
    h('h2', {}, 'How it works'),
    h('ol', { class: 'steps card' },
      h('li', {}, 'Create an account and buy a pack of four assessments in the app (the same account works on the website).'),
      h('li', {}, 'Take the test: write both tasks against the clock, or talk with Maya for 11 to 14 minutes.'),
      h('li', {}, 'Read your bands per criterion, the feedback and the notes on your own text or transcript; track your progress over time.')),
  ];
}

function registerScreen() {
  const error = formError();
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', {}, 'Create your account'),
    field('reg-email', 'Email', h('input', { id: 'reg-email', type: 'email', autocomplete: 'email', required: true })),
    field('reg-password', 'Password', h('input', { id: 'reg-password', type: 'password', autocomplete: 'new-password', minlength: 8, required: true, 'aria-describedby': 'reg-password-hint' }), 'At least 8 characters.'),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'reg-terms', required: true }), h('span', {}, 'I accept the ', h('a', { href: '#/terms' }, 'terms of use'), ' and the ', h('a', { href: '#/privacy' }, 'privacy notice'), '.')),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'reg-age', required: true }), h('span', {}, 'I am 16 or older.')),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'reg-marketing' }), h('span', {}, 'Send me study tips and offers by email (optional; you can stop them at any time).')),
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create account')),
    h('p', { class: 'muted' }, 'Already registered? ', h('a', { href: '#/login' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const email = form.querySelector('#reg-email').value.trim();
    const password = form.querySelector('#reg-password').value;
    const terms = form.querySelector('#reg-terms').checked;
    const age = form.querySelector('#reg-age').checked;
    if (!email.includes('@')) return showError(error, 'Enter your email address.');
    if (password.length < 8) return showError(error, 'Choose a password of at least 8 characters.');
    if (!terms || !age) return showError(error, 'To register you must accept the terms and be 16 or older.');
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await api.post('/api/auth/register', {
        email,
        password,
        consent: { terms, age_16_plus: age, marketing: form.querySelector('#reg-marketing').checked },
      });
      await api.login(email, password);
      await loadMe();
      toast('Welcome! Your account is ready.', 'success');
      navigate('#/dashboard');
    } catch (e) {
      showError(error, e instanceof ApiError && e.code === 'email_taken' ? 'An account with this email already exists. Sign in instead.' : errorText(e));
      button.disabled = false;
    }
  });
  return form;
}

function loginScreen() {
  const error = formError();
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', {}, 'Sign in'),
    field('login-email', 'Email', h('input', { id: 'login-email', type: 'email', autocomplete: 'username', required: true })),
    field('login-password', 'Password', h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password', required: true })),
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
    h('p', { class: 'muted' }, 'New here? ', h('a', { href: '#/register' }, 'Create an account')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await api.login(form.querySelector('#login-email').value.trim(), form.querySelector('#login-password').value);
      await loadMe();
      navigate('#/dashboard');
    } catch (e) {
      showError(error, e instanceof ApiError && e.status === 401 ? 'That email and password do not match an account.' : errorText(e));
      button.disabled = false;
    }
  });
  return form;
}

const isWriting = (module) => module.endsWith('_writing');

function statusBadge(item) {
  if (item.status === 'failed' && item.error?.code === 'abandoned') return h('span', { class: 'badge' }, 'Left, credit returned');
  const text = { in_progress: 'In progress', scoring: 'Being marked', scored: 'Marked', failed: 'Not marked, credit returned' }[item.status] || item.status;
  return h('span', { class: `badge ${item.status}` }, text);
}

function assessmentHref(item) {
  const kind = isWriting(item.module) ? 'writing' : 'speaking';
  return item.status === 'in_progress' ? `#/${kind}/${item.id}` : `#/result/${item.id}`;
}

async function startAssessment(module) {
  try {
    const { assessment } = await api.post('/api/assessments', { module });
    navigate(`#/${isWriting(module) ? 'writing' : 'speaking'}/${assessment.id}`);
  } catch (e) {
    toast(e instanceof ApiError && e.code === 'no_credits' ? `You have no ${label(module)} assessments left. Buy a pack first.` : errorText(e), 'error');
  }
}

/** Buy one pack: in the app through the store plugin, on the website through the test store (when there is one). */
async function buy(module, onDone) {
  if (isNativeApp && state.purchases) {
    if (await confirmPurchase(context, module)) await state.purchases.buy(module);
    return;
  }
  await buyPack(context, module, onDone);
}

async function dashboard(view) {
  const me = await loadMe();
  if (!me) return navigate('#/login');
  const { assessments } = await api.get('/api/assessments');
  const rerender = () => route();
  const details = await Promise.all(
    assessments.filter((a) => a.status === 'scored').slice(0, 20).map((a) => api.get(`/api/assessments/${a.id}`).then((r) => r.assessment)),
  );
  mount(view,
    h('h1', {}, 'Your dashboard'),
    h('p', { class: 'muted' }, `Signed in as ${me.user.email}`),
    h('h2', {}, 'Your assessments'),
    h('div', { class: 'grid grid-4' }, MODULES.map((module) => {
      const credits = me.credits[module] ?? 0;
      return h('article', { class: 'card module-card', 'aria-labelledby': `mod-${module}` },
        h('h3', { id: `mod-${module}` }, label(module)),
        h('p', {}, h('span', { class: 'credits', 'data-module': module }, String(credits)), ' left'),
        h('div', { class: 'actions' },
          h('button', { type: 'button', disabled: credits < 1, onclick: () => startAssessment(module), 'aria-label': `Start ${label(module)}` }, 'Start'),
          h('button', { type: 'button', class: 'secondary', onclick: () => buy(module, rerender) }, 'Buy 4 · USD 36', h('span', { class: 'visually-hidden' }, `: ${label(module)} pack`))));
    })),
    h('h2', {}, 'Your progress'),
    progressChart(details),
    h('h2', {}, 'History'),
    assessments.length
      ? h('ul', { class: 'history card' }, assessments.map((a) =>
        h('li', {},
          h('span', {}, h('a', { href: assessmentHref(a) }, label(a.module)), ' ', h('span', { class: 'muted' }, new Date(a.created_at).toLocaleString())),
          h('span', {}, a.result?.overall_band != null ? h('strong', {}, `Band ${a.result.overall_band} `) : a.result?.provisional_band != null ? h('strong', {}, `Provisional band ${a.result.provisional_band} `) : null, statusBadge(a)))))
      : h('p', { class: 'card' }, 'No assessments yet. Start one above when you have credits.'));
}

/** How a purchase was paid: a real store purchase, or a test one (the local test store, a sandbox). */
function purchaseBadge(purchase) {
  if (purchase.test_store) return h('span', { class: 'badge scoring' }, 'Test store: not charged');
  if (purchase.environment && purchase.environment !== 'Production') return h('span', { class: 'badge scoring' }, `${purchase.environment}: not charged`);
  return h('span', { class: 'badge scored' }, purchase.platform === 'google' ? 'Google Play' : 'App Store');
}

async function profile(view) {
  const me = await loadMe();
  if (!me) return navigate('#/login');
  const error = formError();
  // Purchases as billing recorded them (from the export): test-store and sandbox purchases are labelled as such.
  const purchases = (await api.get('/api/me/export')).domains?.purchases || [];
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Download my data (JSON)');
  exportButton.addEventListener('click', async () => {
    try {
      const data = await api.get('/api/me/export');
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: 'ieltsprep-export.json' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      toast('Your data export is downloading.', 'success');
    } catch (e) {
      toast(errorText(e), 'error');
    }
  });
  const form = h('form', { class: 'card', novalidate: true },
    h('h2', {}, 'Delete my account'),
    h('p', {}, 'This deletes your account, your assessments, transcripts and results. Unused credits are lost. It cannot be undone.'),
    field('del-password', 'Your password', h('input', { id: 'del-password', type: 'password', autocomplete: 'current-password', required: true })),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'del-confirm' }), h('span', {}, 'I understand that my data will be deleted for good.')),
    error,
    h('button', { type: 'submit', class: 'danger' }, 'Delete my account'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!form.querySelector('#del-confirm').checked) return showError(error, 'Tick the box to confirm.');
    try {
      await api.del('/api/me', { password: form.querySelector('#del-password').value }, { idempotent: false });
      api.tokens.clear();
      state.me = null;
      toast('Your account and data were deleted.', 'success');
      navigate('#/');
    } catch (e) {
      showError(error, e instanceof ApiError && e.status === 401 ? 'That password is not right.' : errorText(e));
    }
  });
  mount(view,
    h('h1', {}, 'Your profile'),
    h('section', { class: 'card' },
      h('p', {}, h('strong', {}, 'Email: '), me.user.email),
      h('p', {}, h('strong', {}, 'Member since: '), new Date(me.user.created_at).toLocaleDateString()),
      h('p', {}, h('strong', {}, 'Marketing emails: '), me.user.consents?.marketing?.accepted ? 'yes' : 'no')),
    h('section', { class: 'card' },
      h('h2', {}, 'Your purchases'),
      purchases.length
        ? h('ul', { class: 'history', 'data-testid': 'purchases' }, purchases.map((p) =>
          h('li', {},
            h('span', {}, `${label(p.module)}: ${p.credits} assessments`, ' ', h('span', { class: 'muted' }, new Date(p.created_at || p.purchase_date).toLocaleDateString())),
            purchaseBadge(p))))
        : h('p', { class: 'muted' }, 'No purchases yet.')),
    h('section', { class: 'card' },
      h('h2', {}, 'Export my data'),
      h('p', {}, 'Everything we store about you (profile, consents, purchases, assessments, transcripts and results) as one JSON file.'),
      exportButton),
    form);
}

// ---------------------------------------------------------------------------------------------------------------
// Router

const ROUTES = [
  [/^#?\/?$/, () => home()],
  [/^#\/register$/, () => registerScreen()],
  [/^#\/login$/, () => loginScreen()],
  [/^#\/dashboard$/, (view) => dashboard(view)],
  [/^#\/profile$/, (view) => profile(view)],
  [/^#\/(privacy|terms)$/, (view, m) => legalScreen(m[1])],
  [/^#\/pricing$/, (view) => pricingScreen(view, context)],
  [/^#\/sample$/, (view) => sampleScreen(view, context)],
  [/^#\/writing\/([\w-]+)$/, (view, m) => writingExam(view, m[1], context)],
  [/^#\/speaking\/([\w-]+)$/, (view, m) => speakingExam(view, m[1], context)],
  [/^#\/result\/([\w-]+)$/, (view, m) => resultScreen(view, m[1])],
];

async function resultScreen(view, id) {
  const { assessment } = await api.get(`/api/assessments/${id}`);
  return isWriting(assessment.module) ? writingResult(view, assessment, context) : speakingResult(view, assessment, context);
}

const context = { api, toast, navigate, errorText, label, state, isNativeApp };
let cleanup = null;
let routeToken = 0;
let firstRoute = true;

async function route() {
  const hash = location.hash || '#/';
  const token = (routeToken += 1);
  if (cleanup) {
    const fn = cleanup;
    cleanup = null;
    try {
      await fn();
    } catch {
      // A screen that failed to clean up must not block the next one.
    }
  }
  context.onLeave = (fn) => (cleanup = fn);
  // A message about the screen being left goes with it (one raised just before this navigation stays).
  // An exam room starts clear, so nothing moves under the candidate's hands when a message goes.
  const examRoom = /^#\/(writing|speaking)\//.test(hash);
  for (const el of toastRegion.querySelectorAll('.toast:not(.error)')) {
    if (examRoom || Date.now() - Number(el.dataset.shown) > 1500) el.remove();
  }
  renderNav(hash);
  const view = h('div', { class: 'view' });
  mount(main, h('p', { class: 'muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Loading...'));
  const match = ROUTES.map(([pattern, screen]) => [hash.match(pattern), screen]).find(([m]) => m);
  try {
    const result = match ? await match[1](view, match[0]) : [h('h1', {}, 'Page not found'), h('p', {}, 'There is no page at this address. ', h('a', { href: '#/' }, 'Go home'))];
    if (token !== routeToken) return;
    if (result !== undefined && result !== view) mount(view, result);
    mount(main, view);
    renderNav(hash);
    const heading = main.querySelector('h1');
    if (heading) document.title = `${heading.textContent} · IELTS GenAI Prep`;
    // After a navigation, focus moves to the new screen (screen readers announce it); not on the first load.
    if (!firstRoute) main.focus({ preventScroll: true });
    firstRoute = false;
    window.scrollTo(0, 0);
  } catch (error) {
    if (token !== routeToken) return;
    if (error instanceof ApiError && error.status === 401) {
      state.me = null;
      return navigate('#/login');
    }
    mount(main, h('div', { class: 'card', role: 'alert' }, h('h1', {}, 'Something went wrong'), h('p', {}, errorText(error)), h('a', { href: '#/dashboard' }, 'Back to the dashboard')));
  }
}

async function start() {
  if (!isNativeApp && 'serviceWorker' in navigator) {
    // The app files stay available offline; a failed registration only loses that.
    navigator.serviceWorker.register('sw.js').catch(() => {});
  }
  if (isNativeApp) {
    // The app measures the regions once per launch and stays with the fastest that answers.
    api.measureLatencies().catch(() => {});
  }
  try {
    await loadMe();
  } catch {
    state.me = null;
  }
  window.addEventListener('hashchange', route);
  await route();
}

start();
