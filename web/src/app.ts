// The app's frame, shared by every page module (pages/*.ts): the router
// (history.pushState, so back and forward work and every page has its own
// URL), the signed-in account, the navigation, and the helpers a page uses
// to show itself, its forms and their errors (docs/web.md).
import { api, ApiFailure, setReadSignal, setUnauthorizedHandler, type Account } from './api';
import { h, type Form } from './dom';

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;

// The account of the session cookie, read again at each page change; null when
// logged out.
export let me: Account | null = null;
export function forget(): void {
  me = null;
}

export interface Ctx {
  query: URLSearchParams;
  params: Record<string, string>; // the :name segments of the route's path
}
export type Page = (ctx: Ctx) => void | Promise<void>;
interface Route {
  segments: string[];
  show: Page;
  login: boolean;
}
const routes: Route[] = [];

// Adds a page at a path such as '/trackers/:id'. With login, a visitor with no
// session goes to the login page first, and back here after it.
export function route(path: string, show: Page, opts: { login?: boolean } = {}): void {
  routes.push({ segments: path.split('/').filter(Boolean), show, login: opts.login ?? false });
}

function match(path: string): { r: Route; params: Record<string, string> } | null {
  const parts = path.split('/').filter(Boolean);
  for (const r of routes) {
    if (r.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    r.segments.forEach((s, i) => {
      if (s.startsWith(':')) params[s.slice(1)] = decodeURIComponent(parts[i]);
      else if (s !== parts[i]) ok = false;
    });
    if (ok) return { r, params };
  }
  return null;
}

export function go(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  void render();
}

function toLogin(): void {
  const here = location.pathname + location.search;
  if (location.pathname !== '/login') go('/login?next=' + encodeURIComponent(here), true);
}

// A 401 from any call: the login page, then back to where the person was.
setUnauthorizedHandler(() => {
  me = null;
  toLogin();
});

export function link(href: string, text: string): HTMLAnchorElement {
  return h('a', { href }, text);
}

document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest('a');
  if (!a || a.origin !== location.origin || a.target || a.hasAttribute('download')) return;
  if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0 || a.pathname.startsWith('/api/')) return;
  ev.preventDefault();
  go(a.pathname + a.search);
});
window.addEventListener('popstate', () => void render());

// The navigation: its links are part of the contract (docs/web.md).
export function renderNav(): void {
  nav.replaceChildren();
  const list = h('ul');
  const item = (n: Node) => list.append(h('li', {}, n));
  item(link('/', 'Home'));
  item(link('/blog', 'Blog'));
  item(link('/feed', 'Feed'));
  if (me) {
    for (const [href, text] of [['/trackers', 'Trackers'], ['/goals', 'Goals'], ['/report', 'Report'], ['/settings', 'Settings']]) item(link(href, text));
    if (me.role === 'admin') item(link('/admin', 'Admin'));
    const out = h('button', { type: 'button' }, 'Log out');
    out.addEventListener('click', () => void logout());
    item(h('span', {}, `Signed in as ${me.username}`));
    item(out);
  } else {
    item(link('/login', 'Log in'));
    item(link('/signup', 'Sign up'));
  }
  for (const a of list.querySelectorAll('a')) {
    const here = a.pathname === '/' ? location.pathname === '/' : location.pathname === a.pathname || location.pathname.startsWith(a.pathname + '/');
    if (here) a.setAttribute('aria-current', 'page');
  }
  nav.append(list);
}

async function loadMe(): Promise<void> {
  try {
    me = (await api<{ account: Account }>('GET', '/session', undefined, true)).account;
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') return; // a newer render reads it
    me = null;
  }
}

export async function logout(): Promise<void> {
  try {
    await api('DELETE', '/session', undefined, true);
  } catch {
    // already logged out: the login page either way
  }
  me = null;
  go('/login');
}

// Shows a page: its title, its <h1> (which takes the focus, so a screen
// reader announces the new page) and its content.
export function page(title: string, ...children: Node[]): void {
  document.title = `${title} · homebase`;
  const h1 = h('h1', { tabindex: '-1' }, title);
  app.replaceChildren(h1, ...children);
  h1.focus();
}

export function status(text: string): HTMLParagraphElement {
  return h('p', { role: 'status' }, text);
}

// An error of a call made outside a form (a button's action, a page's load):
// its message in a role="alert" paragraph, never a stack or JSON.
export function alertBox(): { el: HTMLParagraphElement; show(e: unknown): void; clear(): void } {
  const el = h('p', { class: 'error', role: 'alert' });
  return {
    el,
    show(e) {
      if (!(e instanceof ApiFailure)) throw e;
      el.textContent = e.error.message;
    },
    clear() {
      el.textContent = '';
    },
  };
}

// Submits a form's values to the API; its errors shown by the form. codeFields
// maps an error code to the field it is about (USERNAME_TAKEN → username).
export function onSubmit(
  f: Form,
  send: (v: Record<string, string>) => Promise<void>,
  codeFields: Record<string, string> = {},
): void {
  f.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    f.clearErrors();
    f.busy(true);
    try {
      await send(f.values());
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      f.showError(e.error.message, e.error.details, codeFields[e.error.code]);
    } finally {
      f.busy(false);
    }
  });
}

// Each render aborts the reads of the one before (api.ts) and stops at its
// next step once a newer render has begun: a page left while it loaded
// never draws over the page that replaced it.
let renders = 0;
let reads = new AbortController();

export async function render(): Promise<void> {
  const mine = ++renders;
  reads.abort();
  reads = new AbortController();
  setReadSignal(reads.signal);
  await loadMe();
  if (mine !== renders) return;
  renderNav();
  const found = match(location.pathname);
  if (!found) {
    page('Page not found', h('p', {}, 'There is no page here. '), link('/', 'Home'));
    return;
  }
  if (found.r.login && !me) {
    toLogin();
    return;
  }
  try {
    await found.r.show({ query: new URLSearchParams(location.search), params: found.params });
  } catch (e) {
    if (mine !== renders) return; // a newer page shows (its reads aborted)
    if (!(e instanceof ApiFailure)) throw e;
    if (e.error.status === 401) return; // the login page is already on its way
    page(e.error.status === 404 ? 'Not found' : 'Something went wrong', h('p', { role: 'alert' }, e.error.message), h('p', {}, link('/', 'Home')));
  }
}

// A button that asks before it acts (every delete of the app): "Delete"
// becomes the question with "Yes, delete" and "Cancel", the focus on Cancel
// (the answer that changes nothing); the action's error shows beside them.
export function confirmButton(label: string, question: string, act: () => Promise<void>): HTMLElement {
  const box = h('div', { class: 'confirm' });
  const alert = alertBox();
  const start = h('button', { type: 'button' }, label);
  const ask = () => {
    const yes = h('button', { type: 'button', class: 'danger' }, `Yes, ${label.toLowerCase()}`);
    const no = h('button', { type: 'button' }, 'Cancel');
    no.addEventListener('click', () => {
      box.replaceChildren(start);
      start.focus();
    });
    yes.addEventListener('click', async () => {
      alert.clear();
      yes.disabled = true;
      try {
        await act();
      } catch (e) {
        if (!(e instanceof ApiFailure)) throw e;
        alert.show(e);
        yes.disabled = false;
      }
    });
    box.replaceChildren(h('div', { role: 'group', 'aria-label': question }, h('p', {}, question), yes, ' ', no), alert.el);
    no.focus();
  };
  start.addEventListener('click', ask);
  box.append(start);
  return box;
}
