/**
 * Type-level proof (checked by `tsc --noEmit`, never run) that deepfs backends can be passed to
 * deepagents as they are: each is assigned to deepagents' own protocol types.
 */
import {
  type BackendProtocol,
  BaseSandbox,
  CompositeBackend,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileUploadResponse,
  StateBackend,
  withPermissions,
  withQuota,
} from "@deepfs/core";
import type {
  AnyBackendProtocol,
  BackendProtocolV2,
  CreateDeepAgentParams,
  SandboxBackendProtocolV2,
} from "deepagents";

class TypeOnlySandbox extends BaseSandbox {
  readonly id = "type-only";
  execute(): ExecuteResponse {
    return { output: "", exitCode: 0, truncated: false };
  }
  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return files.map(([path]) => ({ path, error: null }));
  }
  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return paths.map((path) => ({ path, content: null, error: "file_not_found" }));
  }
}

export const state: BackendProtocolV2 = new StateBackend();
export const composite: BackendProtocolV2 = new CompositeBackend(new StateBackend(), {
  "/memories/": new StateBackend(),
});
export const compositeSandbox: SandboxBackendProtocolV2 = new CompositeBackend(new TypeOnlySandbox(), {
  "/memories/": { backend: new StateBackend(), readOnly: true },
});
export const sandbox: SandboxBackendProtocolV2 = new TypeOnlySandbox();
/** Any deepfs backend, typed by the deepfs contract alone, is accepted too. */
export const anyDeepfsBackend = (backend: BackendProtocol): AnyBackendProtocol => backend;
export const agentBackend: CreateDeepAgentParams["backend"] = new StateBackend();
/** The control layers are backends of the same shape; over a sandbox, withPermissions is a sandbox. */
export const controlled: BackendProtocolV2 = withPermissions(withQuota(new StateBackend(), { maxFiles: 10 }), {
  rules: [],
});
export const controlledSandbox: SandboxBackendProtocolV2 = withPermissions(new TypeOnlySandbox(), { rules: [] });
