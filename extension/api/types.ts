// Shapes of the daemon API, from the typed client (daemon/client), under the names the extension
// uses. Type-only: nothing of the daemon is bundled into the extension by these.
import type * as C from '../../daemon/client';

export type User = C.User;
export type PassportInfo = C.Passport;
export type CreatedPassport = C.CreatedPassport;
export type Workspace = C.Workspace;
export type StorageResource = C.StorageResource;
export type StorageList = C.StorageListing;
export type Session = C.Session;
export type Mount = Session['storage_config']['mounts'][number];
export type ExecuteResult = C.ExecuteResult;
export type ShellInfo = C.ShellInfo;
export type StorageType = StorageResource['storage_type'];
export type AccessMode = StorageResource['access_mode'];
export type StoragePatch = C.PatchStorageRequest;
export type CreateSessionRequest = C.CreateSessionRequest;
export type CreateStorageRequest = C.CreateStorageRequest;
