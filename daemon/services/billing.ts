// Credits: a ledger of additions and usage charges per user, the balance on the user row, and the
// small catalog (products, prices, purchase orders) the seed's admin API exposes.
import type { View, Tx, UserRow, SessionRow, CreditTxRow } from '../store';
import { badRequest, notFound } from '../errors';
import { findTemplate } from './templates';
import { isLive, newId, now, type ServiceContext } from './context';

/** New users start with a grant so a first shuttle works before anyone buys credits. */
export const SIGNUP_GRANT: Record<UserRow['user_type'], number> = { free: 10, pro: 100, enterprise: 1000 };

const round = (n: number) => Math.round(n * 10000) / 10000;

/**
 * Append a ledger entry and move the balance (inside a store mutation). Balances never go below 0,
 * and the entry records what was applied: a charge larger than the balance takes the balance to 0
 * and says what was asked, so the ledger's additions minus its charges are always the balance.
 */
export function applyCredit(tx: Tx, user: UserRow, amount: number, source: string, description: string): CreditTxRow {
  const before = user.credits;
  user.credits = round(Math.max(0, before + amount));
  user.updated_at = now();
  tx.put('users', user);
  const applied = round(user.credits - before);
  const note = applied === round(amount) ? description : `${description}${description ? ' ' : ''}(asked ${round(amount)}; the balance stops at 0)`;
  const entry: CreditTxRow = { tx_id: newId('tx_'), user_id: user.user_id, amount: applied, balance: user.credits, source, description: note, created_at: now() };
  tx.put('credit_transactions', entry);
  return entry;
}

/** Record a finished session's seconds and charge its template's hourly rate (inside a mutation). */
export function meterSession(d: View, tx: Tx, s: SessionRow, endedAt: Date): void {
  const start = Date.parse(s.started_at ?? s.created_at);
  const seconds = Math.max(0, Math.round((endedAt.getTime() - start) / 1000));
  const rate = (() => { try { return findTemplate(s.template_id).credits_per_hour; } catch { return 1; } })();
  const charge = round((seconds / 3600) * rate);
  tx.put('usage_records', {
    usage_id: newId('usage_'), user_id: s.user_id, session_id: s.session_id, workspace_id: s.workspace_id,
    seconds, credits_charged: charge, recorded_at: endedAt.toISOString(),
  });
  const user = d.users.find((u) => u.user_id === s.user_id);
  if (user && charge > 0) applyCredit(tx, user, -charge, 'usage', `shuttle ${s.session_id}: ${seconds} s`);
}

export function billing(ctx: ServiceContext) {
  const { store } = ctx;
  const user = (user_id: string) => {
    const u = store.get('users', user_id);
    if (!u) throw notFound('user');
    return u;
  };
  return {
    async addCredits(user_id: string, amount: number, source: string, description: string) {
      user(user_id);
      return store.write((d, tx) => {
        const u = store.get('users', user_id);
        if (!u) throw notFound('user');
        applyCredit(tx, u, amount, source, description);
        return { ok: true as const, user_id, credits: u.credits };
      });
    },
    credits(user_id: string) {
      return { user_id, credits: user(user_id).credits };
    },
    history(user_id: string) {
      user(user_id);
      return {
        user_id,
        transactions: store.data.credit_transactions.filter((t) => t.user_id === user_id),
        usage: store.data.usage_records.filter((u) => u.user_id === user_id),
      };
    },
    summary(user_id: string) {
      const u = user(user_id);
      let added = 0, charged = 0, seconds = 0;
      for (const t of store.data.credit_transactions) if (t.user_id === user_id) t.amount > 0 ? (added += t.amount) : (charged -= t.amount);
      for (const r of store.data.usage_records) if (r.user_id === user_id) seconds += r.seconds;
      const sessions = store.data.sessions.filter((s) => s.user_id === user_id);
      return {
        user_id, credits: u.credits, total_added: round(added), total_charged: round(charged), usage_seconds: seconds,
        sessions: sessions.length, active_sessions: sessions.filter(isLive).length,
      };
    },
    usage(user_id?: string) {
      return { usage: store.data.usage_records.filter((u) => !user_id || u.user_id === user_id) };
    },
    products: () => ({ products: store.data.products }),
    prices: () => ({ prices: store.data.prices }),
    purchaseOrders: () => ({ purchase_orders: store.data.purchase_orders }),
    createProduct(b: { name: string; description: string; credits: number; active: boolean }) {
      return store.write((_d, tx) => {
        const p = { product_id: newId('prod_'), ...b, created_at: now() };
        tx.put('products', p);
        return p;
      });
    },
    createPrice(b: { product_id: string; amount_cents: number; currency: string }) {
      return store.write((d, tx) => {
        if (!d.products.some((p) => p.product_id === b.product_id)) throw badRequest(`unknown product_id "${b.product_id}"`);
        const p = { price_id: newId('price_'), ...b, created_at: now() };
        tx.put('prices', p);
        return p;
      });
    },
    /** A purchase order for a price: fulfilled at once (payment is outside this daemon), credits added. */
    createPurchaseOrder(b: { user_id: string; price_id: string }) {
      return store.write((d, tx) => {
        const u = store.get('users', b.user_id);
        if (!u) throw notFound('user');
        const price = d.prices.find((p) => p.price_id === b.price_id);
        if (!price) throw badRequest(`unknown price_id "${b.price_id}"`);
        const product = d.products.find((p) => p.product_id === price.product_id);
        if (!product || !product.active) throw badRequest(`product of price "${b.price_id}" is not available`);
        const order = {
          order_id: newId('po_'), user_id: u.user_id, price_id: price.price_id, product_id: product.product_id,
          credits: product.credits, amount_cents: price.amount_cents, currency: price.currency, status: 'fulfilled' as const, created_at: now(),
        };
        tx.put('purchase_orders', order);
        applyCredit(tx, u, product.credits, 'purchase', `order ${order.order_id}: ${product.name}`);
        return { purchase_order: order, credits: u.credits };
      });
    },
  };
}
