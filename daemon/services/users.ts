// Users and their passports. Creating a user is idempotent by email (the seed's behaviour).
import type { PassportRow, UserRow } from '../store';
import { badRequest, notFound, unauthorized } from '../errors';
import { newPassportSecret, sha256, PASSPORT_PREFIX } from '../auth/keys';
import { applyCredit, SIGNUP_GRANT } from './billing';
import { claimForDelete, newId, now, type ServiceContext } from './context';

export type PassportState = 'active' | 'revoked' | 'expired';

export function passportState(p: PassportRow, at = Date.now()): PassportState {
  if (p.revoked_at) return 'revoked';
  if (p.expires_at && Date.parse(p.expires_at) <= at) return 'expired';
  return 'active';
}

export function users(ctx: ServiceContext) {
  const { store } = ctx;
  const get = (user_id: string): UserRow => {
    const u = store.get('users', user_id);
    if (!u) throw notFound('user');
    return u;
  };
  return {
    get,
    list: () => store.data.users,
    /** → [user, created]. The same email again returns the existing user unchanged. */
    async create(b: { email: string; name?: string; user_type: UserRow['user_type'] }): Promise<[UserRow, boolean]> {
      return store.write((d, tx) => {
        const existing = store.findBy('users', 'email', b.email);
        if (existing) return [existing, false] as [UserRow, boolean];
        const t = now();
        const user: UserRow = {
          user_id: newId('user_'), email: b.email, name: b.name ?? b.email.split('@')[0]!, user_type: b.user_type,
          credits: 0, created_at: t, updated_at: t,
        };
        tx.put('users', user);
        applyCredit(tx, user, SIGNUP_GRANT[b.user_type], 'signup', `${b.user_type} signup grant`);
        return [user, true] as [UserRow, boolean];
      });
    },
    async patch(user_id: string, b: { name?: string; user_type?: UserRow['user_type'] }) {
      get(user_id);
      return store.write((d, tx) => {
        const u = store.get('users', user_id);
        if (!u) throw notFound('user');
        if (b.name !== undefined) u.name = b.name;
        if (b.user_type !== undefined) u.user_type = b.user_type;
        u.updated_at = now();
        tx.put('users', u);
        return u;
      });
    },
    /** Delete a user with everything they own (claimForDelete: refused while they have live shuttles). */
    async remove(user_id: string, deleteStorage: (resourceIds: string[]) => Promise<void>) {
      await claimForDelete(ctx, 'users', 'user', user_id,
        () => deleteStorage(store.data.storage_resources.filter((r) => r.user_id === user_id).map((r) => r.resource_id)));
      await store.write((d, tx) => {
        if (!store.get('users', user_id)) return; // another delete of this user finished first
        tx.del('users', user_id);
        // Copies first: tx.del removes the row from the very array being walked.
        for (const p of d.passports.filter((x) => x.user_id === user_id)) tx.del('passports', p.passport_id);
        for (const w of d.workspaces.filter((x) => x.user_id === user_id)) tx.del('workspaces', w.workspace_id);
      });
    },

    async createPassport(b: { user_id: string; name: string; permissions: string[]; expires_at?: string | null }) {
      if (b.expires_at && Date.parse(b.expires_at) <= Date.now()) throw badRequest('expires_at must be in the future');
      const { secret, hash, prefix } = newPassportSecret();
      const row = await store.write((d, tx) => {
        if (!d.users.some((u) => u.user_id === b.user_id)) throw notFound('user');
        const p: PassportRow = {
          passport_id: newId('pp_'), user_id: b.user_id, name: b.name, key_hash: hash, key_prefix: prefix,
          permissions: b.permissions, created_at: now(), expires_at: b.expires_at ? new Date(b.expires_at).toISOString() : null,
          revoked_at: null, last_used_at: null,
        };
        tx.put('passports', p);
        return p;
      });
      return { row, secret };
    },
    listPassports: (user_id?: string) => store.data.passports.filter((p) => !user_id || p.user_id === user_id),
    async revokePassport(passport_id: string) {
      return store.write((d, tx) => {
        const p = store.get('passports', passport_id);
        if (!p) throw notFound('passport');
        p.revoked_at ??= now();
        tx.put('passports', p);
        return p;
      });
    },
    /** The active passport for a secret, or a 401. */
    authenticate(secret: string): PassportRow {
      if (!secret.startsWith(PASSPORT_PREFIX)) throw unauthorized('invalid passport');
      const p = store.passportByHash(sha256(secret));
      if (!p) throw unauthorized('invalid passport');
      const state = passportState(p);
      if (state !== 'active') throw unauthorized(`passport is ${state}`);
      if (!store.get('users', p.user_id)) throw unauthorized('invalid passport');
      return p;
    },
  };
}
