// The web client: a router over plain modules (docs/web.md). Each page is a
// function that fills <main>; links and forms move with history.pushState,
// so back and forward work and every page has its own URL.
import './style.css';
import { api, ApiFailure, setUnauthorizedHandler, type Account } from './api';
import { h, makeForm, type Form } from './dom';

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
let me: Account | null = null;

type Page = (params: URLSearchParams) => void | Promise<void>;
const pages: Record<string, Page> = {
  '/': home,
  '/signup': signup,
  '/login': login,
  '/forgot-password': forgotPassword,
  '/confirm-email': confirmEmail,
  '/reset-password': resetPassword,
};

function go(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  void render();
}

// A 401 from any call: the login page, then back to where the person was.
setUnauthorizedHandler(() => {
  me = null;
  const here = location.pathname + location.search;
  if (location.pathname !== '/login') go('/login?next=' + encodeURIComponent(here), true);
});

function link(href: string, text: string): HTMLAnchorElement {
  return h('a', { href }, text);
}

document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest('a');
  if (!a || a.origin !== location.origin || a.target || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  go(a.pathname + a.search);
});
window.addEventListener('popstate', () => void render());

function renderNav(): void {
  nav.replaceChildren();
  const list = h('ul');
  list.append(h('li', {}, link('/', 'Home')));
  if (me) {
    const out = h('button', { type: 'button' }, 'Log out');
    out.addEventListener('click', () => void logout());
    list.append(h('li', {}, h('span', {}, `Signed in as ${me.username}`)), h('li', {}, out));
  } else {
    list.append(h('li', {}, link('/login', 'Log in')), h('li', {}, link('/signup', 'Sign up')));
  }
  nav.append(list);
}

async function loadMe(): Promise<void> {
  try {
    me = (await api<{ account: Account }>('GET', '/session', undefined, true)).account;
  } catch {
    me = null;
  }
}

function page(title: string, ...children: Node[]): void {
  document.title = `${title} · homebase`;
  const h1 = h('h1', { tabindex: '-1' }, title);
  app.replaceChildren(h1, ...children);
  h1.focus();
}

function status(text: string): HTMLParagraphElement {
  return h('p', { role: 'status' }, text);
}

// Submits a form's values to the API; its errors shown by the form. codeFields
// maps an error code to the field it is about (USERNAME_TAKEN → username).
function onSubmit(
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

async function render(): Promise<void> {
  await loadMe();
  renderNav();
  const show = pages[location.pathname];
  if (!show) {
    page('Page not found', h('p', {}, 'There is no page here. '), link('/', 'Home'));
    return;
  }
  await show(new URLSearchParams(location.search));
}

function home(): void {
  if (me) {
    const notes: Node[] = [h('p', {}, `Welcome, ${me.display_name || me.username}.`)];
    if (!me.email_confirmed_at) notes.push(h('p', {}, `Your address ${me.email} is not confirmed yet: the link is in your mail.`));
    page('Home', ...notes);
  } else {
    page('Home', h('p', {}, 'Log in or sign up to use the site.'), h('p', {}, link('/login', 'Log in'), ' · ', link('/signup', 'Sign up')));
  }
}

function signup(): void {
  const f = makeForm(
    [
      { name: 'username', label: 'Username', type: 'text', autocomplete: 'username' },
      { name: 'email', label: 'E-mail', type: 'email', autocomplete: 'email' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password' },
    ],
    'Sign up',
  );
  onSubmit(
    f,
    async (v) => {
      await api('POST', '/accounts', v);
      page('Check your mail', status(`Your account ${v.username} is made. A confirmation link is on its way to ${v.email}.`), h('p', {}, link('/login', 'Log in')));
    },
    { USERNAME_TAKEN: 'username', EMAIL_TAKEN: 'email' },
  );
  page('Sign up', f.form, h('p', {}, 'Already have an account? ', link('/login', 'Log in')));
}

function login(params: URLSearchParams): void {
  const f = makeForm(
    [
      { name: 'login', label: 'Username or e-mail', type: 'text', autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ],
    'Log in',
  );
  onSubmit(f, async (v) => {
    await api('POST', '/sessions', v, true); // the token in the answer is left unread: the cookie holds the session
    const next = params.get('next') ?? '/';
    go(next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
  });
  page('Log in', f.form, h('p', {}, link('/forgot-password', 'Forgot password?'), ' · ', link('/signup', 'Sign up')));
}

async function logout(): Promise<void> {
  try {
    await api('DELETE', '/session', undefined, true);
  } catch {
    // already logged out: the login page either way
  }
  me = null;
  go('/login');
}

function forgotPassword(): void {
  const f = makeForm([{ name: 'email', label: 'E-mail', type: 'email', autocomplete: 'email' }], 'Send reset link');
  onSubmit(f, async (v) => {
    await api('POST', '/password-resets', v);
    page('Check your mail', status(`If an account has the address ${v.email}, a link to set a new password is on its way.`), h('p', {}, link('/login', 'Log in')));
  });
  page('Forgot password', h('p', {}, 'Give the address of your account: we mail it a link to set a new password.'), f.form);
}

// The mail links' pages act only on a button: mail scanners open links.
function confirmEmail(params: URLSearchParams): void {
  const token = params.get('token') ?? '';
  const f = makeForm([], 'Confirm');
  onSubmit(f, async () => {
    await api('POST', '/email-confirmations', { token });
    page('Address confirmed', status('Your e-mail address is confirmed.'), h('p', {}, link('/', 'Home')));
  });
  page('Confirm your e-mail address', h('p', {}, 'Confirm the address this link was mailed to.'), f.form);
}

function resetPassword(params: URLSearchParams): void {
  const token = params.get('token') ?? '';
  const f = makeForm([{ name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password' }], 'Set password');
  onSubmit(f, async (v) => {
    await api('PUT', '/password-resets', { token, new_password: v.new_password });
    me = null;
    renderNav();
    page('Password changed', status('Your password is changed and every session of the account is logged out.'), h('p', {}, link('/login', 'Log in')));
  });
  page('Set a new password', f.form);
}

void render();
