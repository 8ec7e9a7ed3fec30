// The public API (/api/v1), same-origin, with the session cookie alone: the
// client never sees or stores a token (docs/web.md).

export interface ApiError {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown> | null;
  hint?: string;
  retryAfter?: string;
}

export class ApiFailure extends Error {
  constructor(public readonly error: ApiError) {
    super(error.message);
  }
}

// What a 401 does (main.ts: the login page, then back here).
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

// A W3C traceparent made for each call (version 00, a random trace id and
// span id, sampled): the gateway answers it, logs its trace id with the
// request id, and passes it into SQL, where the audit rows and a slow call's
// LOG line name it (docs/operations/functions.md, "One trace"). The browser's
// network panel shows it on the request, so one id ties the click to them.
function traceparent(): string {
  const b = crypto.getRandomValues(new Uint8Array(24));
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `00-${hex.slice(0, 32)}-${hex.slice(32)}-01`;
}

// The reads of the page on show: the router (app.ts) aborts them when
// another page replaces it, so a slow answer for a page left behind can
// never draw over the newer one. Writes are never aborted.
let reads: AbortSignal | undefined;
export function setReadSignal(s: AbortSignal): void {
  reads = s;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, quiet401 = false): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { traceparent: traceparent() } : { traceparent: traceparent(), 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: method === 'GET' ? reads : undefined,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e; // its page is gone

    throw new ApiFailure({ status: 0, code: 'NETWORK', message: 'The server could not be reached.', details: null });
  }
  if (res.ok) {
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as T;
  }
  let e: ApiError;
  try {
    const j = await res.json();
    e = { status: res.status, code: String(j.code ?? ''), message: String(j.message ?? res.statusText), details: j.details ?? null, hint: j.hint };
  } catch {
    e = { status: res.status, code: '', message: `The server answered ${res.status}.`, details: null };
  }
  if (res.status === 429) {
    e.retryAfter = res.headers.get('Retry-After') ?? undefined;
    if (e.retryAfter) e.message += ` Try again in ${e.retryAfter} s.`;
  }
  // INVALID_CREDENTIALS is about the password a form sent (a wrong current
  // password), not the session: the form shows it.
  if (res.status === 401 && !quiet401 && e.code !== 'INVALID_CREDENTIALS') onUnauthorized();
  throw new ApiFailure(e);
}

export interface Account {
  id: number;
  username: string;
  display_name: string | null;
  email: string;
  role: string;
  email_confirmed_at: string | null;
  pending_email: string | null;
}
