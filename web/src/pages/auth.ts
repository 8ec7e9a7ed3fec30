// Home and the account's way in: sign up, log in, forgot password, and the
// landing pages of the mail links (which act only on a button: mail scanners
// open links).
import { api } from '../api';
import { go, link, me, forget, onSubmit, page, renderNav, route, status } from '../app';
import { h, makeForm } from '../dom';

route('/', () => {
  if (me) {
    const notes: Node[] = [h('p', {}, `Welcome, ${me.display_name || me.username}.`)];
    if (!me.email_confirmed_at) notes.push(h('p', {}, `Your address ${me.email} is not confirmed yet: the link is in your mail.`));
    page('Home', ...notes);
  } else {
    page('Home', h('p', {}, 'Log in or sign up to use the site.'), h('p', {}, link('/login', 'Log in'), ' · ', link('/signup', 'Sign up')));
  }
});

route('/signup', () => {
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
});

route('/login', ({ query }) => {
  const f = makeForm(
    [
      { name: 'login', label: 'Username or e-mail', type: 'text', autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ],
    'Log in',
  );
  onSubmit(f, async (v) => {
    await api('POST', '/sessions', v, true); // the token in the answer is left unread: the cookie holds the session
    const next = query.get('next') ?? '/';
    go(next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
  });
  page('Log in', f.form, h('p', {}, link('/forgot-password', 'Forgot password?'), ' · ', link('/signup', 'Sign up')));
});

route('/forgot-password', () => {
  const f = makeForm([{ name: 'email', label: 'E-mail', type: 'email', autocomplete: 'email' }], 'Send reset link');
  onSubmit(f, async (v) => {
    await api('POST', '/password-resets', v);
    page('Check your mail', status(`If an account has the address ${v.email}, a link to set a new password is on its way.`), h('p', {}, link('/login', 'Log in')));
  });
  page('Forgot password', h('p', {}, 'Give the address of your account: we mail it a link to set a new password.'), f.form);
});

route('/confirm-email', ({ query }) => {
  const token = query.get('token') ?? '';
  const f = makeForm([], 'Confirm');
  onSubmit(f, async () => {
    await api('POST', '/email-confirmations', { token });
    page('Address confirmed', status('Your e-mail address is confirmed.'), h('p', {}, link('/', 'Home')));
  });
  page('Confirm your e-mail address', h('p', {}, 'Confirm the address this link was mailed to.'), f.form);
});

route('/reset-password', ({ query }) => {
  const token = query.get('token') ?? '';
  const f = makeForm([{ name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password' }], 'Set password');
  onSubmit(f, async (v) => {
    await api('PUT', '/password-resets', { token, new_password: v.new_password });
    forget();
    renderNav();
    page('Password changed', status('Your password is changed and every session of the account is logged out.'), h('p', {}, link('/login', 'Log in')));
  });
  page('Set a new password', f.form);
});
