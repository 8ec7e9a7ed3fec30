// Settings (/settings, logged in): the display name, the address (a change
// asks the password and waits for its mailed link), the password, the
// sessions, the preferences and the account's deletion (docs/web.md).
import './settings.css';
import { api, type Account } from '../api';
import { alertBox, forget, link, me, onSubmit, page, renderNav, route, status } from '../app';
import { h, makeForm } from '../dom';

interface Session {
  id: number;
  browser_info: string;
  ip_address: string | null;
  created_at: string;
  last_used: string;
  expires_at: string;
  current: boolean;
}
interface Preferences {
  notification: string;
  report_format: string;
  timezone: string;
}

const when = (t: string) => new Date(t).toLocaleString();

// A titled part of the page: a region named by its <h2>.
function section(id: string, title: string, ...children: Node[]): HTMLElement {
  return h('section', { class: 'setting', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

function profile(account: Account): HTMLElement {
  const done = status('');
  const f = makeForm(
    [{ name: 'display_name', label: 'Display name', type: 'text', autocomplete: 'nickname', value: account.display_name ?? '', required: false }],
    'Save name',
    'profile-',
  );
  onSubmit(f, async (v) => {
    done.textContent = '';
    const { account: a } = await api<{ account: Account }>('PATCH', '/account', { display_name: v.display_name });
    done.textContent = `Your display name is now ${a.display_name ?? a.username}.`;
  });
  return section('s-profile', 'Display name', h('p', {}, 'The name others see on your posts. Leave it empty for your username.'), f.form, done);
}

function address(account: Account): HTMLElement {
  const now = h('div');
  const alert = alertBox();
  const shown = status('');
  const show = (a: Account) => {
    const parts: Node[] = [h('p', {}, `Your address: ${a.email}`, a.email_confirmed_at ? '' : ' (not confirmed yet)')];
    if (a.pending_email) {
      const again = h('button', { type: 'button' }, 'Send the link again');
      again.addEventListener('click', async () => {
        alert.clear();
        shown.textContent = '';
        try {
          await api('POST', '/account/email-confirmation');
          shown.textContent = `A new link is on its way to ${a.pending_email}.`;
        } catch (e) {
          alert.show(e);
        }
      });
      parts.push(h('p', { class: 'pending' }, `Waiting for confirmation: ${a.pending_email}. The link is in that mailbox; the address changes when it is followed.`), again);
    }
    now.replaceChildren(...parts);
  };
  show(account);
  const f = makeForm(
    [
      { name: 'email', label: 'New e-mail', type: 'email', autocomplete: 'email' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ],
    'Change address',
    'address-',
  );
  onSubmit(
    f,
    async (v) => {
      shown.textContent = '';
      const { account: a } = await api<{ account: Account }>('PATCH', '/account', { email: v.email, password: v.password });
      show(a);
      f.form.reset();
      shown.textContent = a.pending_email ? `A confirmation link is on its way to ${a.pending_email}.` : 'Your address is saved.';
    },
    { EMAIL_TAKEN: 'email' },
  );
  return section('s-address', 'E-mail address', now, alert.el, shown, f.form);
}

function password(): HTMLElement {
  const done = status('');
  const f = makeForm(
    [
      { name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password' },
      { name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password' },
    ],
    'Change password',
    'password-',
  );
  onSubmit(f, async (v) => {
    done.textContent = '';
    await api('PUT', '/account/password', v);
    f.form.reset();
    done.textContent = 'Your password is changed; your other sessions are logged out.';
    await refreshSessions();
  });
  return section('s-password', 'Password', f.form, done);
}

let refreshSessions: () => Promise<void> = async () => {};

function sessions(first: Session[]): HTMLElement {
  const list = h('ul', { class: 'sessions' });
  const alert = alertBox();
  const done = status('');
  const others = h('button', { type: 'button' }, 'Revoke all other sessions');
  const show = (all: Session[]) => {
    list.replaceChildren(
      ...all.map((s) => {
        const id = `session-${s.id}`;
        const about = h(
          'span',
          { id },
          `${s.browser_info || 'An unknown browser'}${s.ip_address ? ` at ${s.ip_address}` : ''}: since ${when(s.created_at)}, last used ${when(s.last_used)}`,
        );
        const item = h('li', {}, about);
        if (s.current) {
          item.classList.add('current');
          item.append(' ', h('strong', {}, '(this session)'));
        } else {
          const revoke = h('button', { type: 'button', 'aria-describedby': id }, 'Revoke');
          revoke.addEventListener('click', async () => {
            alert.clear();
            done.textContent = '';
            try {
              await api('DELETE', `/sessions/${s.id}`);
              done.textContent = 'The session is revoked.';
            } catch (e) {
              alert.show(e);
            }
            await refreshSessions();
          });
          item.append(' ', revoke);
        }
        return item;
      }),
    );
    others.hidden = !all.some((s) => !s.current);
  };
  refreshSessions = async () => show((await api<{ sessions: Session[] }>('GET', '/sessions')).sessions);
  others.addEventListener('click', async () => {
    alert.clear();
    done.textContent = '';
    try {
      await api('DELETE', '/sessions');
      done.textContent = 'Every other session is revoked.';
    } catch (e) {
      alert.show(e);
    }
    await refreshSessions();
  });
  show(first);
  return section('s-sessions', 'Sessions', h('p', {}, 'Where your account is logged in.'), list, others, alert.el, done);
}

function zones(current: string): [string, string][] {
  const all = new Set(Intl.supportedValuesOf('timeZone'));
  all.add('UTC');
  all.add(current);
  return [...all].sort().map((z) => [z, z]);
}

function preferences(p: Preferences): HTMLElement {
  const done = status('');
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const f = makeForm(
    [
      { name: 'notification', label: 'Reminder digest', type: 'select', autocomplete: 'off', value: p.notification, options: [['daily', 'Daily'], ['weekly', 'Weekly'], ['none', 'None']] },
      { name: 'report_format', label: 'Monthly report', type: 'select', autocomplete: 'off', value: p.report_format, options: [['html', 'HTML'], ['pdf', 'PDF'], ['none', 'None']] },
      { name: 'timezone', label: 'Time zone', type: 'select', autocomplete: 'off', value: p.timezone, options: zones(p.timezone) },
    ],
    'Save preferences',
    'pref-',
  );
  onSubmit(f, async (v) => {
    done.textContent = '';
    await api('PUT', '/account/preferences', v);
    done.textContent = 'Your preferences are saved.';
  });
  return section(
    's-preferences',
    'Preferences',
    h('p', {}, `The mails you get, and the time zone of their days and months (this browser's: ${browserZone}).`),
    f.form,
    done,
  );
}

function deletion(): HTMLElement {
  const confirmBox = h('div', { class: 'confirm', hidden: '' });
  // Asks once more, on the page; resolves true on "Yes".
  const confirmed = () =>
    new Promise<boolean>((resolve) => {
      const yes = h('button', { type: 'button', class: 'danger' }, 'Yes, delete my account');
      const no = h('button', { type: 'button' }, 'Cancel');
      const end = (answer: boolean) => {
        confirmBox.hidden = true;
        confirmBox.replaceChildren();
        resolve(answer);
      };
      yes.addEventListener('click', () => end(true));
      no.addEventListener('click', () => end(false));
      confirmBox.replaceChildren(
        h('p', { role: 'alert' }, 'This deletes the account and everything it owns (posts, activities, trackers, goals, sessions). It cannot be undone.'),
        yes,
        ' ',
        no,
      );
      confirmBox.hidden = false;
      yes.focus();
    });
  const f = makeForm([{ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' }], 'Delete account', 'delete-');
  onSubmit(f, async (v) => {
    if (!(await confirmed())) return;
    await api('DELETE', '/account', { password: v.password });
    forget();
    renderNav();
    page('Account deleted', status('Your account and everything it owned are deleted.'), h('p', {}, link('/', 'Home')));
  });
  return section('s-delete', 'Delete account', h('p', {}, 'Give your password to delete the account.'), f.form, confirmBox);
}

route(
  '/settings',
  async () => {
    const account = me!;
    const [s, p] = await Promise.all([
      api<{ sessions: Session[] }>('GET', '/sessions'),
      api<{ preferences: Preferences }>('GET', '/account/preferences'),
    ]);
    page('Settings', profile(account), address(account), password(), sessions(s.sessions), preferences(p.preferences), deletion());
  },
  { login: true },
);
