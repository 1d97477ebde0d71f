import * as vscode from 'vscode';
import { COMMANDS, VIEW_IDS } from '../commandIds';
import { Disposable } from '../lifecycle';
import type { Model } from '../model';
import { childrenOf, itemFor, parentOf, type Node } from './items';

type ViewName = keyof typeof VIEW_IDS;

// One provider per view over the shared Model snapshot. Items carry their Node so commands
// invoked from a row receive it (`arg.node`).
export class OnMemOSTreeItem extends vscode.TreeItem {
  constructor(readonly node: Node, model: Model) {
    const spec = itemFor(node, model.snapshot);
    super(spec.label, spec.collapsible ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    this.id = spec.id;
    this.description = spec.description;
    this.tooltip = new vscode.MarkdownString(spec.tooltip);
    this.iconPath = new vscode.ThemeIcon(spec.icon.id, spec.icon.color ? new vscode.ThemeColor(spec.icon.color) : undefined);
    this.contextValue = spec.contextValue;
    if (node.kind === 'shuttle' && node.session.status === 'running') {
      this.command = { command: COMMANDS.openTerminal, title: 'Open Terminal', arguments: [node] };
    }
  }
}

class Provider implements vscode.TreeDataProvider<Node> {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  constructor(private readonly view: ViewName, private readonly model: Model) {}
  fire(): void { this.emitter.fire(undefined); }
  getTreeItem(node: Node): vscode.TreeItem { return new OnMemOSTreeItem(node, this.model); }
  getChildren(node?: Node): Node[] { return childrenOf(this.view, node, this.model.snapshot); }
  getParent(node: Node): Node | undefined { return parentOf(node, this.model.snapshot); }
  dispose(): void { this.emitter.dispose(); }
}

export class Trees extends Disposable {
  readonly views = new Map<ViewName, vscode.TreeView<Node>>();
  readonly providers = new Map<ViewName, vscode.TreeDataProvider<Node>>();

  constructor(private readonly model: Model) {
    super();
    for (const name of Object.keys(VIEW_IDS) as ViewName[]) {
      const provider = this._register(new Provider(name, model));
      const view = this._register(vscode.window.createTreeView(VIEW_IDS[name], { treeDataProvider: provider, showCollapseAll: name !== 'workspaces' }));
      this.views.set(name, view);
      this.providers.set(name, provider);
      this._register(model.onDidChange(() => { provider.fire(); this.updateBadge(name, view); }));
      // Polling keeps running in the background; a view that becomes visible asks for fresh data.
      this._register(view.onDidChangeVisibility((e) => { if (e.visible) void model.refresh(); }));
    }
  }

  private updateBadge(name: ViewName, view: vscode.TreeView<Node>): void {
    if (name !== 'shuttles') return;
    const n = this.model.snapshot.sessions.filter((s) => s.status === 'running').length;
    view.badge = n ? { value: n, tooltip: `${n} running shuttle${n === 1 ? '' : 's'}` } : undefined;
  }
}
