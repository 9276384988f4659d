// The admin API client: every call carries the admin token as a Bearer header. The token lives in
// sessionStorage only (this tab, gone when it closes): never in a URL, never in localStorage.
// URLs are relative to the page (/dashboard/ → /admin/), so the dashboard works behind any proxy.

const TOKEN_KEY = 'tollgate.adminToken';
const ADMIN_BASE = new URL('../admin/', document.baseURI);

/** An answer other than 2xx, with the message of the gateway's OpenAI-shaped error body. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  /** The gateway does not know this call or these parameters (an older version): say so, do not fail. */
  get unavailable() {
    return this.status === 400 || this.status === 404;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called when a stored token stops working (rotated on the server): the app returns to sign-in. */
let onTokenRefused = () => {};
export function whenTokenRefused(callback) {
  onTokenRefused = callback;
}

async function call(method, path, { body, token = session.token() } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, ADMIN_BASE), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const answer = await response.json().catch(() => undefined);
  if (response.ok) return answer;
  throw new ApiError(response.status, answer?.error?.message ?? `${response.status} ${response.statusText}`);
}

/** Checks a token before keeping it: resolves when the gateway accepts it, throws ApiError otherwise. */
export async function checkToken(token) {
  await call('GET', 'keys', { token });
}

/** Every data call: a 401 means the token kept in this tab no longer works. */
async function authorized(method, path, options) {
  try {
    return await call(method, path, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) onTokenRefused();
    throw err;
  }
}

const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();

export const api = {
  /** GET /admin/usage: rows grouped as asked; empty filters are left out. */
  usage: async (params) => (await authorized('GET', `usage?${query(params)}`)).data,
  /** GET /admin/stats: 429s by reason and upstream failures since this instance started. */
  stats: () => authorized('GET', 'stats'),
  listKeys: async () => (await authorized('GET', 'keys')).data,
  createKey: (input) => authorized('POST', 'keys', { body: input }),
  updateKey: (id, patch) => authorized('PATCH', `keys/${encodeURIComponent(id)}`, { body: patch }),
  revokeKey: (id) => authorized('DELETE', `keys/${encodeURIComponent(id)}`),
};
