// Keys: the list with this month's spend against each budget, and create (the plaintext shown once,
// with a copy button), edit and revoke (after a confirmation). Config keys are listed, read-only.
import { api, ApiError } from './api.js';
import { failure, fromTemplate, h, table } from './dom.js';
import { exactUsd, usd, when } from './format.js';

const STATUS_ORDER = { active: 0, expired: 1, revoked: 2 };

export async function render(root) {
  const page = fromTemplate('keys-page');
  root.replaceChildren(page);
  const refresh = () => loadList(page);
  page.querySelector('[data-action="new"]').addEventListener('click', () => openKeyDialog(page, undefined, refresh));
  wireCreatedCard(page);
  await refresh();
}

async function loadList(page) {
  const slot = page.querySelector('[data-slot="list"]');
  try {
    const [keys, spend] = await Promise.all([api.listKeys(), monthSpend()]);
    keys.sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.createdAt.localeCompare(a.createdAt));
    page.knownTiers = [...new Set(keys.map((k) => k.tier))].sort();
    slot.replaceChildren(keysTable(page, keys, spend, () => loadList(page)));
    page.dataset.loaded = 'true';
  } catch (err) {
    slot.replaceChildren(failure('Keys', err));
  }
}

/** keyId → USD spent this UTC month (the admin API's default range), or undefined without usage. */
async function monthSpend() {
  try {
    const rows = await api.usage({ groupBy: 'key' });
    return new Map(rows.map((row) => [row.keyId, row.costUsd]));
  } catch (err) {
    if (err instanceof ApiError && err.unavailable) return undefined;
    throw err;
  }
}

function keysTable(page, keys, spend, refresh) {
  const columns = [
    { label: 'Name', value: (k) => [h('strong', {}, k.name), h('br'), h('code', { class: 'muted' }, k.id)] },
    { label: 'Team', value: (k) => k.team ?? '–' },
    { label: 'Tier', value: (k) => k.tier },
    { label: 'Models', value: (k) => (k.models ? k.models.join(', ') : 'all') },
    { label: 'Spent this month', numeric: true, value: (k) => spent(k, spend) },
    { label: 'Budget left', numeric: true, value: (k) => budgetLeft(k, spend) },
    { label: 'Expires', value: (k) => (k.expiresAt ? when(k.expiresAt) : 'never') },
    { label: 'Status', value: (k) => h('span', { class: `pill ${k.status}` }, k.status) },
    { label: '', value: (k) => actions(page, k, refresh) },
  ];
  return table(columns, keys, { empty: 'No keys yet.', rowAttributes: (k) => ({ 'data-key-id': k.id }) });
}

function spent(key, spend) {
  if (!spend) return '–';
  const usdSpent = spend.get(key.id) ?? 0;
  return h('span', { title: exactUsd(usdSpent) }, usd(usdSpent));
}

function budgetLeft(key, spend) {
  if (key.budgetUsd === undefined) return 'no budget';
  if (!spend) return `of ${usd(key.budgetUsd)}`;
  const left = Math.max(key.budgetUsd - (spend.get(key.id) ?? 0), 0);
  const meter = h('meter', { min: 0, max: key.budgetUsd, value: key.budgetUsd - left, low: key.budgetUsd * 0.8 });
  return [h('span', {}, `${usd(left)} of ${usd(key.budgetUsd)}`), h('br'), meter];
}

function actions(page, key, refresh) {
  const usageLink = h('a', { href: `#usage?keyId=${encodeURIComponent(key.id)}` }, 'Usage');
  if (key.source === 'config') return [usageLink, ' ', h('span', { class: 'muted small' }, 'from config')];
  if (key.status === 'revoked') return usageLink;
  const button = (action, label, style, onclick) =>
    h('button', { type: 'button', class: style, 'data-action': action, onclick }, label);
  return [
    usageLink,
    button('edit', 'Edit', 'quiet', () => openKeyDialog(page, key, refresh)),
    button('revoke', 'Revoke', 'quiet danger', () => openRevokeDialog(page, key, refresh)),
  ];
}

/** The create form (no `key`) or the edit form of `key`. */
function openKeyDialog(page, key, refresh) {
  const dialog = fromTemplate('key-dialog');
  const form = dialog.querySelector('form');
  dialog.querySelector('[data-slot="title"]').textContent = key ? `Edit ${key.name}` : 'New key';
  dialog.querySelector('[data-slot="submit"]').textContent = key ? 'Save' : 'Create key';
  const tiers = (page.knownTiers ?? []).map((tier) => h('option', { value: tier }));
  dialog.querySelector('#known-tiers').replaceChildren(...tiers);
  const initial = formValues(key);
  for (const [field, value] of Object.entries(initial)) form.elements[field].value = value;
  showDialog(page, dialog, refresh, async () => {
    const values = Object.fromEntries(Object.keys(initial).map((field) => [field, form.elements[field].value.trim()]));
    if (key) await api.updateKey(key.id, changes(initial, values));
    else showCreated(page, await api.createKey(createInput(values)));
  });
}

/** The form's fields as text, from a key record (or empty for a new key). */
function formValues(key = {}) {
  return {
    name: key.name ?? '',
    tier: key.tier ?? '',
    team: key.team ?? '',
    models: key.models?.join(', ') ?? '',
    budgetUsd: key.budgetUsd === undefined ? '' : String(key.budgetUsd),
    expiresAt: key.expiresAt?.slice(0, 10) ?? '',
  };
}

/** A form field as the API wants it; empty text is "none". */
const FIELD_VALUES = {
  models: (text) => text.split(',').map((m) => m.trim()).filter(Boolean),
  budgetUsd: Number,
};
const apiValue = (field, text) => (text === '' ? null : (FIELD_VALUES[field] ?? String)(text));

/** POST /admin/keys's body: the filled-in fields only. */
function createInput(values) {
  const filled = Object.entries(values).filter(([, text]) => text !== '');
  return Object.fromEntries(filled.map(([field, text]) => [field, apiValue(field, text)]));
}

/** PATCH's body: only what was changed; a cleared field is null (the API then removes it). */
function changes(initial, values) {
  return Object.fromEntries(
    Object.keys(values).filter((f) => values[f] !== initial[f]).map((f) => [f, apiValue(f, values[f])]),
  );
}

function showError(dialog, err) {
  const error = dialog.querySelector('[data-slot="error"]');
  error.textContent = err.message;
  error.hidden = false;
}

function openRevokeDialog(page, key, refresh) {
  const dialog = fromTemplate('revoke-dialog');
  dialog.querySelector('[data-slot="name"]').textContent = key.name;
  showDialog(page, dialog, refresh, () => api.revokeKey(key.id));
}

/**
 * Opens a modal form: Cancel closes it; submitting runs `submit`, which keeps the dialog open with the
 * server's message when it fails, and otherwise closes it and refreshes the page.
 */
function showDialog(page, dialog, refresh, submit) {
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.querySelector('[data-action="cancel"]').addEventListener('click', close);
  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await submit();
    } catch (err) {
      showError(dialog, err);
      return;
    }
    close();
    await refresh();
  });
  page.append(dialog);
  dialog.showModal();
}

/** The plaintext of a new key, shown until "Done"; then it is gone from the page. */
function showCreated(page, created) {
  const card = page.querySelector('#created-key');
  card.querySelector('#created-key-value').value = created.key;
  card.dataset.keyId = created.id;
  card.hidden = false;
}

function wireCreatedCard(page) {
  const card = page.querySelector('#created-key');
  const input = card.querySelector('#created-key-value');
  const copy = card.querySelector('[data-action="copy"]');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      input.select(); // no clipboard access (plain http on another host): selected for Ctrl+C
      copy.textContent = 'Press Ctrl+C';
      return;
    }
    copy.textContent = 'Copied';
  });
  card.querySelector('[data-action="dismiss"]').addEventListener('click', () => {
    input.value = '';
    copy.textContent = 'Copy';
    card.hidden = true;
  });
}
