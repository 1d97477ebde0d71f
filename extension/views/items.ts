import type { Mount, Session, StorageResource, Workspace } from '../api/types';
import type { Snapshot } from '../model';

// Pure mapping from API resources to what a tree row shows. No vscode import: unit tested.
// contextValue grammar (read by package.json `view/item/context` when-clauses):
//   workspace | group.vaults | group.drives | storage.<vault|drive>.<default|nondefault>.<auto|manual>
//   shuttle.<status> | mount

export type Node =
  | { kind: 'workspace'; workspace: Workspace }
  | { kind: 'group'; storageType: 'bucket' | 'filestore'; workspace: Workspace }
  | { kind: 'storage'; resource: StorageResource }
  | { kind: 'shuttle'; session: Session }
  | { kind: 'mount'; session: Session; mount: Mount };

export interface IconSpec { id: string; color?: string }

export interface ItemSpec {
  id: string;
  label: string;
  description: string;
  tooltip: string; // markdown
  icon: IconSpec;
  contextValue: string;
  collapsible: boolean;
}

export const STORAGE_UI: Record<'bucket' | 'filestore', { noun: string; plural: string; icon: string }> = {
  bucket: { noun: 'Vault', plural: 'Vaults', icon: 'archive' },
  filestore: { noun: 'Drive', plural: 'Drives', icon: 'database' },
};

export function storageKind(r: Pick<StorageResource, 'storage_type'>): 'vault' | 'drive' {
  return r.storage_type === 'filestore' ? 'drive' : 'vault';
}

const md = (s: string) => s.replace(/([\\`*_{}[\]()#+!|<>])/g, '\\$1');

export function workspaceItem(w: Workspace, s: Snapshot): ItemSpec {
  const shuttles = s.sessions.filter((x) => x.workspace_id === w.workspace_id && isLive(x.status)).length;
  const storage = s.storage.filter((x) => x.workspace_id === w.workspace_id);
  const vaults = storage.filter((x) => x.storage_type === 'bucket').length;
  const drives = storage.length - vaults;
  const parts = [plural(shuttles, 'shuttle'), plural(vaults, 'vault'), plural(drives, 'drive')];
  return {
    id: `workspace:${w.workspace_id}`,
    label: w.name,
    description: parts.join(' · '),
    tooltip: [
      `**Workspace ${md(w.name)}**`, '',
      `ID: \`${w.workspace_id}\``,
      w.k8s_namespace ? `Namespace: \`${w.k8s_namespace}\`` : '',
      w.resource_package ? `Package: ${md(w.resource_package)}` : '',
      w.identity_state ? `Identity: ${md(w.identity_state)}` : '',
      w.created_at ? `Created: ${w.created_at}` : '',
    ].filter(Boolean).join('  \n'),
    icon: { id: 'folder-library' },
    contextValue: 'workspace',
    collapsible: false,
  };
}

export function groupItem(type: 'bucket' | 'filestore', w: Workspace, s: Snapshot): ItemSpec {
  const n = s.storage.filter((x) => x.workspace_id === w.workspace_id && x.storage_type === type).length;
  return {
    id: `group:${type}:${w.workspace_id}`,
    label: w.name,
    description: plural(n, STORAGE_UI[type].noun.toLowerCase()),
    tooltip: `${STORAGE_UI[type].plural} of workspace **${md(w.name)}**`,
    icon: { id: 'folder-library' },
    contextValue: type === 'bucket' ? 'group.vaults' : 'group.drives',
    collapsible: true,
  };
}

export function storageDescription(r: StorageResource): string {
  const parts: string[] = [];
  if (r.is_default) parts.push('default');
  if (r.size_gb != null) parts.push(`${r.size_gb} GB`);
  parts.push(r.mount_path, r.access_mode === 'RO' ? 'read-only' : 'read-write');
  if (!r.auto_mount) parts.push('manual mount');
  if (r.state && r.state !== 'ready' && r.state !== 'active') parts.push(r.state);
  return parts.join(' · ');
}

export function storageItem(r: StorageResource, workspaceName?: string): ItemSpec {
  const ui = STORAGE_UI[r.storage_type === 'filestore' ? 'filestore' : 'bucket'];
  return {
    id: `storage:${r.resource_id}`,
    label: r.name,
    description: storageDescription(r),
    tooltip: [
      `**${ui.noun} ${md(r.name)}**${r.is_default ? ' (workspace default)' : ''}`, '',
      `ID: \`${r.resource_id}\``,
      workspaceName ? `Workspace: ${md(workspaceName)}` : '',
      r.size_gb != null ? `Size: ${r.size_gb} GB` : '',
      `Mount path: \`${r.mount_path}\` (${r.access_mode === 'RO' ? 'read-only' : 'read-write'})`,
      `Auto-mount: ${r.auto_mount ? 'yes, into every new shuttle of the workspace' : 'no, only when chosen at launch'}`,
      r.state ? `State: ${md(r.state)}` : '',
    ].filter(Boolean).join('  \n'),
    icon: { id: r.is_default ? 'star-full' : ui.icon, color: r.is_default ? 'charts.yellow' : undefined },
    contextValue: `storage.${storageKind(r)}.${r.is_default ? 'default' : 'nondefault'}.${r.auto_mount ? 'auto' : 'manual'}`,
    collapsible: false,
  };
}

export function isLive(status: string): boolean {
  return !['terminated', 'deleted', 'failed', 'expired', 'stopped', 'error'].includes(status);
}

export function shuttleIcon(status: string): IconSpec {
  switch (status) {
    case 'running': return { id: 'vm-running', color: 'charts.green' };
    case 'pending': case 'starting': case 'creating': case 'provisioning': return { id: 'loading~spin' };
    case 'failed': case 'error': return { id: 'error', color: 'charts.red' };
    default: return { id: 'vm-outline' };
  }
}

export function timeLeft(expiresAt: string | null | undefined, now: number): string | undefined {
  if (!expiresAt) return undefined;
  const ms = Date.parse(expiresAt) - now;
  if (!Number.isFinite(ms)) return undefined;
  if (ms <= 0) return 'expired';
  const min = Math.round(ms / 60_000);
  return min >= 90 ? `${Math.round(min / 60)} h left` : `${min} min left`;
}

export function shuttleItem(x: Session, workspaceName: string | undefined, now: number): ItemSpec {
  const mounts = x.storage_config?.mounts ?? [];
  const left = timeLeft(x.expires_at, now);
  const desc = [x.status, workspaceName, left].filter(Boolean).join(' · ');
  return {
    id: `shuttle:${x.id}`,
    label: x.pod_name || x.id,
    description: desc,
    tooltip: [
      `**Shuttle ${md(x.pod_name || x.id)}** — ${md(x.status)}`, '',
      `ID: \`${x.id}\``,
      workspaceName ? `Workspace: ${md(workspaceName)}` : '',
      x.provider ? `Provider: ${md(x.provider)}` : '',
      x.created_at ? `Started: ${x.created_at}` : '',
      x.expires_at ? `Expires: ${x.expires_at}${left ? ` (${left})` : ''}` : '',
      mounts.length ? `Mounts: ${mounts.map((m) => `\`${m.mount_path}\``).join(', ')}` : 'No storage mounted',
    ].filter(Boolean).join('  \n'),
    icon: shuttleIcon(x.status),
    contextValue: `shuttle.${x.status}`,
    collapsible: mounts.length > 0,
  };
}

export function mountItem(x: Session, m: Mount, names: ReadonlyMap<string, StorageResource>): ItemSpec {
  const r = names.get(m.resource_id);
  const isDrive = m.type === 'filestore';
  return {
    id: `mount:${x.id}:${m.resource_id}:${m.mount_path}`,
    label: m.mount_path,
    description: `${r?.name ?? m.resource_id} · ${m.access_mode === 'RO' ? 'read-only' : 'read-write'}`,
    tooltip: `${isDrive ? 'Drive' : 'Vault'} **${md(r?.name ?? m.resource_id)}** mounted at \`${m.mount_path}\``,
    icon: { id: isDrive ? 'database' : 'archive' },
    contextValue: 'mount',
    collapsible: false,
  };
}

export function itemFor(node: Node, s: Snapshot, now = Date.now()): ItemSpec {
  const wsName = (id: string) => (s.workspaces.length > 1 ? s.workspaces.find((w) => w.workspace_id === id)?.name : undefined);
  switch (node.kind) {
    case 'workspace': return workspaceItem(node.workspace, s);
    case 'group': return groupItem(node.storageType, node.workspace, s);
    case 'storage': return storageItem(node.resource, s.workspaces.find((w) => w.workspace_id === node.resource.workspace_id)?.name);
    case 'shuttle': return shuttleItem(node.session, wsName(node.session.workspace_id), now);
    case 'mount': return mountItem(node.session, node.mount, new Map(s.storage.map((r) => [r.resource_id, r])));
  }
}

// Children of a view's root or of a node. Storage views group by workspace only when the user
// has more than one; shuttles show their mounts as children.
export function childrenOf(view: 'workspaces' | 'vaults' | 'drives' | 'shuttles', node: Node | undefined, s: Snapshot): Node[] {
  if (view === 'workspaces') return node ? [] : s.workspaces.map((workspace) => ({ kind: 'workspace', workspace }));
  if (view === 'shuttles') {
    if (!node) return sortSessions(s.sessions.filter((x) => isLive(x.status))).map((session) => ({ kind: 'shuttle', session }));
    if (node.kind === 'shuttle') return (node.session.storage_config?.mounts ?? []).map((mount) => ({ kind: 'mount', session: node.session, mount }));
    return [];
  }
  const type = view === 'vaults' ? 'bucket' : 'filestore';
  const of = (wsId: string): Node[] => s.storage
    .filter((r) => r.storage_type === type && r.workspace_id === wsId)
    .sort((a, b) => Number(b.is_default) - Number(a.is_default) || a.name.localeCompare(b.name))
    .map((resource) => ({ kind: 'storage', resource }));
  if (!node) {
    if (s.workspaces.length === 1) return of(s.workspaces[0]!.workspace_id);
    return s.workspaces
      .filter((w) => s.storage.some((r) => r.storage_type === type && r.workspace_id === w.workspace_id))
      .map((workspace) => ({ kind: 'group', storageType: type, workspace }));
  }
  return node.kind === 'group' ? of(node.workspace.workspace_id) : [];
}

export function parentOf(node: Node, s: Snapshot): Node | undefined {
  if (node.kind === 'mount') return { kind: 'shuttle', session: node.session };
  if (node.kind === 'storage' && s.workspaces.length > 1) {
    const workspace = s.workspaces.find((w) => w.workspace_id === node.resource.workspace_id);
    if (workspace) return { kind: 'group', storageType: node.resource.storage_type === 'filestore' ? 'filestore' : 'bucket', workspace };
  }
  return undefined;
}

function sortSessions(list: Session[]): Session[] {
  return [...list].sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
