import { nativeErrorCode, SOCKET_ERROR_CODES } from "@deepfs/core/kit";

/** How a failed Docker call should be handled, decided by HTTP status or socket error code. */
export type DockerFault =
  /** The container is gone or stopped (HTTP 404 on a container, 409 not running): its files are lost. */
  | "container_lost"
  /** The daemon is unreachable or answered 5xx: worth retrying, then `backend_unavailable`. */
  | "transient"
  /** The image does not exist locally (HTTP 404 on an image). */
  | "image_missing"
  /** Anything else: a bug or a refused request. */
  | "other";

// Errors of the socket to the daemon: a restart, a missing socket (ENOENT), a dropped connection.
function isSocketFault(code: string): boolean {
  return code === "ENOENT" || SOCKET_ERROR_CODES.has(code);
}

/** The HTTP status docker-modem puts on a failed request, if any. */
export function httpStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** Classifies an error thrown by a dockerode call about a container. */
export function classifyContainerError(error: unknown): DockerFault {
  const status = httpStatus(error);
  if (status === 404 || status === 409) return "container_lost";
  if (status !== undefined) return status >= 500 ? "transient" : "other";
  return isSocketFault(nativeErrorCode(error)) ? "transient" : "other";
}

/** Classifies an error of an image lookup. */
export function classifyImageError(error: unknown): DockerFault {
  return httpStatus(error) === 404
    ? "image_missing"
    : classifyContainerError(error) === "transient"
      ? "transient"
      : "other";
}

/** A short, credential-free description of a Docker error for messages. */
export function describeDockerError(error: unknown): string {
  const status = httpStatus(error);
  const reason = (error as { reason?: unknown; json?: { message?: unknown } } | null) ?? {};
  const detail = typeof reason.json?.message === "string" ? reason.json.message : undefined;
  if (status !== undefined) return `Docker answered HTTP ${status}${detail ? `: ${detail}` : ""}`;
  const code = nativeErrorCode(error);
  if (code) return `the Docker daemon could not be reached (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Raised inside the sandbox when a call cannot be served; public methods turn it into a returned
 * `{ error, code: "backend_unavailable" }`.
 */
export class SandboxUnavailableError extends Error {
  readonly code = "backend_unavailable" as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxUnavailableError";
  }
}

/** The container stopped under a running call (killed from outside): its files are lost. */
export class ContainerStoppedError extends Error {
  constructor() {
    super("the container is not running");
    this.name = "ContainerStoppedError";
  }
}
