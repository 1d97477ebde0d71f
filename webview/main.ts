// The admin forms (browser side). Controls from @vscode-elements/elements, themed by VS Code's CSS
// variables; every action goes through Rpc to the extension host, which holds the admin key.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { CreatedPassport, PassportInfo, User, Workspace } from '../extension/api/types';
import type { InitMessage } from './protocol';
import { validateEmail } from '../extension/validation';
import { h, setBusy, valueOf } from './dom';
import { Rpc } from './rpc';

interface State {
  init?: InitMessage;
  users: User[];
  selected?: string;
  passports: PassportInfo[];
  workspaces: Workspace[];
  secret?: CreatedPassport;
  errors: Record<string, string | undefined>;
  notice?: string;
  confirmDelete?: boolean;
}

const state: State = { users: [], passports: [], workspaces: [], errors: {} };
const app = document.getElementById('app')!;
const rpc = new Rpc((init) => {
  state.init = init;
  if (init.daemonUp) void loadUsers(); else render();
});

async function run(section: string, button: Element | null, fn: () => Promise<void>): Promise<void> {
  state.errors[section] = undefined;
  state.notice = undefined;
  setBusy(button, true);
  try { await fn(); } catch (e) { state.errors[section] = e instanceof Error ? e.message : String(e); }
  finally { setBusy(button, false); render(); }
}

async function loadUsers(): Promise<void> {
  if (!state.init?.hasAdminKey) { render(); return; }
  await run('users', null, async () => {
    state.users = await rpc.call('users.list', {});
    if (state.selected && !state.users.some((u) => u.user_id === state.selected)) state.selected = undefined;
    if (!state.selected && state.users.length) state.selected = state.users[0]!.user_id;
    await loadDetail();
  });
}

async function loadDetail(): Promise<void> {
  if (!state.selected) { state.passports = []; state.workspaces = []; return; }
  const [passports, workspaces] = await Promise.all([
    rpc.call('passports.list', { user_id: state.selected }), rpc.call('workspaces.list', { user_id: state.selected }),
  ]);
  state.passports = passports;
  state.workspaces = workspaces;
}

function field(id: string, label: string, attrs: Record<string, string | boolean> = {}): HTMLElement {
  return h('div', { class: 'field' },
    h('vscode-label', { for: id }, label),
    h('vscode-textfield', { id, ...attrs }));
}

function onEnter(form: HTMLElement, submit: () => void): HTMLElement {
  form.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') { e.preventDefault(); submit(); } });
  return form;
}

function error(section: string): HTMLElement | null {
  const msg = state.errors[section];
  return msg ? h('p', { class: 'error', role: 'alert', id: `${section}-error` }, msg) : null;
}

function header(): HTMLElement {
  const i = state.init;
  return h('header', {},
    h('h1', {}, 'OnMemOS Admin'),
    h('p', { class: 'muted' }, `Admin API ${i?.adminUrl ?? '…'} · `,
      i?.hasAdminKey ? h('span', { class: 'ok' }, 'admin key set') : h('span', { class: 'warn' }, 'no admin key'), ' ',
      h('vscode-button', { id: 'set-admin-key', secondary: true, onclick: () => void rpc.call('adminKey.set', {}) }, i?.hasAdminKey ? 'Change Admin Key…' : 'Set Admin Key…')),
    i && !i.daemonUp ? h('p', { class: 'error', role: 'alert' }, 'The daemon does not answer. Start it with the “OnMemOS: Start Daemon” command.') : null,
    state.notice ? h('p', { class: 'notice', role: 'status' }, state.notice) : null);
}

function usersSection(): HTMLElement {
  const create = () => {
    const email = valueOf(document.getElementById('user-email'));
    const name = valueOf(document.getElementById('user-name'));
    const type = valueOf(document.getElementById('user-type')) as 'free' | 'pro' | 'enterprise';
    const problem = validateEmail(email);
    if (problem) { state.errors.users = problem; render(); return; }
    void run('users', document.getElementById('create-user'), async () => {
      const user = await rpc.call('users.create', { email, ...(name ? { name } : {}), user_type: type || 'pro' });
      state.users = await rpc.call('users.list', {});
      state.selected = user.user_id;
      state.secret = undefined;
      state.notice = `User ${user.email} is ready. Next: create a passport for them below.`;
      await loadDetail();
    });
  };
  return h('section', { 'aria-labelledby': 'users-h' },
    h('h2', { id: 'users-h' }, 'Users'),
    onEnter(h('div', { class: 'form-row' },
      field('user-email', 'Email', { placeholder: 'ada@example.com', type: 'email' }),
      field('user-name', 'Name', { placeholder: 'Ada Lovelace' }),
      h('div', { class: 'field' }, h('vscode-label', { for: 'user-type' }, 'Plan'),
        h('vscode-single-select', { id: 'user-type' },
          h('vscode-option', { value: 'pro', selected: true }, 'pro'), h('vscode-option', { value: 'free' }, 'free'), h('vscode-option', { value: 'enterprise' }, 'enterprise'))),
      h('vscode-button', { id: 'create-user', onclick: create }, 'Create User')), create),
    error('users'),
    state.users.length
      ? h('table', { class: 'list', id: 'users-table' },
        h('thead', {}, h('tr', {}, ...['Email', 'Name', 'Plan', 'Credits', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, ...state.users.map((u) => h('tr', { class: u.user_id === state.selected ? 'selected' : '', 'aria-selected': String(u.user_id === state.selected) },
          h('td', {}, u.email), h('td', {}, u.name), h('td', {}, u.user_type), h('td', { class: 'num' }, u.credits),
          h('td', {}, u.user_id === state.selected ? h('span', { class: 'muted' }, 'selected')
            : h('vscode-button', { secondary: true, onclick: () => void run('users', null, async () => { state.selected = u.user_id; state.secret = undefined; state.confirmDelete = false; await loadDetail(); }) }, 'Manage'))))))
      : h('p', { class: 'muted' }, state.init?.hasAdminKey ? 'No users yet. Create the first one above.' : 'Set the admin key to manage users.'));
}

function secretBox(p: CreatedPassport): HTMLElement {
  return h('div', { class: 'secret', role: 'region', 'aria-label': 'New passport' },
    h('p', {}, h('strong', {}, `Passport “${p.name}” created.`), ' Copy it now: it is shown only this once.'),
    h('code', { id: 'passport-secret', tabindex: 0 }, p.passport),
    h('div', { class: 'actions' },
      h('vscode-button', { id: 'copy-passport', onclick: () => void run('passports', null, async () => { await rpc.call('clipboard.copy', { text: p.passport }); state.notice = 'Passport copied to the clipboard.'; }) }, 'Copy'),
      h('vscode-button', { id: 'use-passport', secondary: true, onclick: () => void run('passports', document.getElementById('use-passport'), async () => {
        const r = await rpc.call('passports.use', { passport: p.passport });
        state.notice = r.state === 'ready' ? 'This window now uses the new passport: the OnMemOS views show this user\'s resources.' : `Passport saved (connection: ${r.state}).`;
      }) }, 'Use as My Passport'),
      h('vscode-button', { id: 'dismiss-passport', secondary: true, onclick: () => { state.secret = undefined; render(); } }, 'Done')));
}

function detailSection(): HTMLElement | null {
  const user = state.users.find((u) => u.user_id === state.selected);
  if (!user) return null;
  const uid = user.user_id;
  const createPassport = () => void run('passports', document.getElementById('create-passport'), async () => {
    const name = valueOf(document.getElementById('passport-name')) || 'default';
    state.secret = await rpc.call('passports.create', { user_id: uid, name });
    state.passports = await rpc.call('passports.list', { user_id: uid });
  });
  const addCredits = () => {
    const amount = Number(valueOf(document.getElementById('credits-amount')));
    if (!Number.isFinite(amount) || amount <= 0) { state.errors.credits = 'Enter a positive amount of credits.'; render(); return; }
    void run('credits', document.getElementById('add-credits'), async () => {
      const r = await rpc.call('credits.add', { user_id: uid, amount });
      state.users = state.users.map((u) => (u.user_id === uid ? { ...u, credits: r.credits } : u));
      state.notice = `${amount} credits added; balance ${r.credits}.`;
    });
  };
  const createWorkspace = () => {
    const name = valueOf(document.getElementById('workspace-name'));
    if (!name) { state.errors.workspaces = 'Enter a workspace name.'; render(); return; }
    void run('workspaces', document.getElementById('create-workspace'), async () => {
      const w = await rpc.call('workspaces.create', { user_id: uid, name });
      state.workspaces = await rpc.call('workspaces.list', { user_id: uid });
      state.notice = `Workspace “${w.name}” created. With this user's passport you can now create vaults and launch shuttles in it.`;
    });
  };
  const del = () => {
    if (!state.confirmDelete) { state.confirmDelete = true; render(); document.getElementById('delete-user')?.focus(); return; }
    void run('danger', document.getElementById('delete-user'), async () => {
      await rpc.call('users.delete', { user_id: uid });
      state.selected = undefined; state.confirmDelete = false; state.secret = undefined;
      state.users = await rpc.call('users.list', {});
      state.notice = `User ${user.email} deleted.`;
      await loadDetail();
    });
  };
  return h('section', { 'aria-labelledby': 'detail-h', id: 'user-detail' },
    h('h2', { id: 'detail-h' }, `User ${user.email}`),
    h('h3', {}, 'Passports'),
    onEnter(h('div', { class: 'form-row' }, field('passport-name', 'Passport name', { placeholder: 'default' }),
      h('vscode-button', { id: 'create-passport', onclick: createPassport }, 'Create Passport')), createPassport),
    error('passports'),
    state.secret && state.secret.user_id === uid ? secretBox(state.secret) : null,
    state.passports.length ? h('table', { class: 'list', id: 'passports-table' },
      h('thead', {}, h('tr', {}, ...['Name', 'Key', 'State', 'Created', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...state.passports.map((p) => h('tr', {},
        h('td', {}, p.name), h('td', {}, h('code', {}, `${p.key_prefix}…`)), h('td', {}, p.state), h('td', {}, p.created_at.slice(0, 19).replace('T', ' ')),
        h('td', {}, p.state === 'active' ? h('vscode-button', { secondary: true, onclick: () => void run('passports', null, async () => {
          await rpc.call('passports.delete', { passport_id: p.passport_id });
          state.passports = await rpc.call('passports.list', { user_id: uid });
        }) }, 'Revoke') : null)))))
      : h('p', { class: 'muted' }, 'No passports yet: a passport is the API key the user (and this extension) signs in with.'),
    h('h3', {}, 'Credits'),
    onEnter(h('div', { class: 'form-row' }, h('p', { class: 'balance' }, 'Balance: ', h('strong', { id: 'credits-balance' }, user.credits)),
      field('credits-amount', 'Amount', { placeholder: '100', type: 'number' }),
      h('vscode-button', { id: 'add-credits', onclick: addCredits }, 'Add Credits')), addCredits),
    error('credits'),
    h('h3', {}, 'Workspaces'),
    onEnter(h('div', { class: 'form-row' }, field('workspace-name', 'Workspace name', { placeholder: 'my-project' }),
      h('vscode-button', { id: 'create-workspace', onclick: createWorkspace }, 'Create Workspace')), createWorkspace),
    error('workspaces'),
    state.workspaces.length ? h('table', { class: 'list', id: 'workspaces-table' },
      h('thead', {}, h('tr', {}, ...['Name', 'ID', 'Namespace', 'Package'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...state.workspaces.map((w) => h('tr', {}, h('td', {}, w.name), h('td', {}, h('code', {}, w.workspace_id)), h('td', {}, w.k8s_namespace), h('td', {}, w.resource_package)))))
      : h('p', { class: 'muted' }, 'No workspaces yet: a workspace holds the user\'s vaults, drives and shuttles.'),
    h('vscode-divider', {}),
    h('div', { class: 'danger' },
      h('vscode-button', { id: 'delete-user', secondary: true, onclick: del }, state.confirmDelete ? `Click again to delete ${user.email}` : 'Delete User…'),
      state.confirmDelete ? h('span', { class: 'warn' }, ' Deletes the user, their passports and workspaces.') : null),
    error('danger'));
}

function render(): void {
  const focused = document.activeElement?.id;
  const values = new Map<string, string>();
  for (const el of Array.from(app.querySelectorAll('vscode-textfield'))) values.set(el.id, valueOf(el));
  app.replaceChildren(header(), usersSection(), ...[detailSection()].filter((x): x is HTMLElement => !!x));
  // Keep what the user typed in fields that survive the re-render (not those just submitted).
  for (const [id, v] of values) {
    const el = document.getElementById(id) as unknown as { value: string } | null;
    if (el && v && !state.notice) el.value = v;
  }
  app.removeAttribute('aria-busy');
  if (focused) document.getElementById(focused)?.focus();
}

render();
