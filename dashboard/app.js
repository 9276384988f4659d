// The dashboard's shell: sign-in, the top bar and a hash router (#overview, #keys, #usage?keyId=…).
// Each page is a module exporting render(root, params); this file only decides which one shows.
import { ApiError, checkToken, session, whenTokenRefused } from './api.js';
import * as overview from './overview.js';
import * as keys from './keys.js';
import * as usage from './usage.js';

const PAGES = { overview, keys, usage };

const byId = (id) => document.getElementById(id);

function showSignIn(message) {
  byId('topbar').hidden = true;
  byId('page').replaceChildren();
  byId('sign-in').hidden = false;
  const error = byId('sign-in-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  byId('token').focus();
}

/** The page named by the hash, e.g. "#usage?keyId=key_1" → usage with {keyId: 'key_1'}. */
function route() {
  const [name, query] = window.location.hash.slice(1).split('?');
  return { name: PAGES[name] ? name : 'overview', params: Object.fromEntries(new URLSearchParams(query)) };
}

function showPage() {
  if (!session.token()) return showSignIn();
  const { name, params } = route();
  byId('sign-in').hidden = true;
  byId('topbar').hidden = false;
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('current', link.dataset.page === name);
  const root = byId('page');
  root.dataset.page = name;
  void PAGES[name].render(root, params);
}

function refusalMessage(err) {
  if (!(err instanceof ApiError)) return `The gateway could not be reached (${err.message}).`;
  if (err.status === 401) return 'That admin token was refused. Check admin.token in the gateway\'s config.';
  if (err.status === 429) return `Too many sign-in attempts from this address: ${err.message}`;
  return `Sign-in failed: ${err.message}`;
}

byId('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = byId('token');
  const token = input.value.trim();
  try {
    await checkToken(token);
  } catch (err) {
    showSignIn(refusalMessage(err));
    return;
  }
  input.value = '';
  session.signIn(token);
  showPage();
});

byId('sign-out').addEventListener('click', () => {
  session.signOut();
  showSignIn();
});

whenTokenRefused(() => {
  session.signOut();
  showSignIn('The admin token is no longer accepted (changed on the gateway?). Sign in again.');
});

window.addEventListener('hashchange', showPage);
showPage();
