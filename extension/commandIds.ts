// Every command the extension contributes, in one typed list. A unit test checks it against
// package.json `contributes.commands`, and the extension-host test against what is registered.
export const COMMANDS = {
  refresh: 'onmemos.refresh',
  launchShuttle: 'onmemos.shuttle.launch',
  terminateShuttle: 'onmemos.shuttle.terminate',
  openTerminal: 'onmemos.shuttle.openTerminal',
  execute: 'onmemos.shuttle.execute',
  createVault: 'onmemos.vault.create',
  createDrive: 'onmemos.drive.create',
  setDefault: 'onmemos.storage.setDefault',
  toggleAutoMount: 'onmemos.storage.toggleAutoMount',
  changeMountPath: 'onmemos.storage.changeMountPath',
  changeAccessMode: 'onmemos.storage.changeAccessMode',
  deleteStorage: 'onmemos.storage.delete',
  copyId: 'onmemos.copyId',
  setPassport: 'onmemos.passport.set',
  forgetPassport: 'onmemos.passport.forget',
  setAdminKey: 'onmemos.adminKey.set',
  forgetAdminKey: 'onmemos.adminKey.forget',
  openAdmin: 'onmemos.admin.open',
  startDaemon: 'onmemos.daemon.start',
  stopDaemon: 'onmemos.daemon.stop',
  showDaemonLog: 'onmemos.daemon.showLog',
  showLog: 'onmemos.showLog',
  openSettings: 'onmemos.openSettings',
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];
export const ALL_COMMAND_IDS: readonly CommandId[] = Object.values(COMMANDS);

export const VIEW_IDS = {
  workspaces: 'onmemos.workspaces',
  vaults: 'onmemos.vaults',
  drives: 'onmemos.drives',
  shuttles: 'onmemos.shuttles',
} as const;

export const TERMINAL_PROFILE_ID = 'onmemos.shuttleTerminal';
