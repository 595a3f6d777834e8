export { type AuditQuery, PostgresAuditTable, type PostgresAuditTableOptions } from "./audit-table.js";
export type {
  PostgresBackendConfig,
  PostgresClient,
  PostgresClientConfig,
  PostgresConfig,
  PostgresStorageOptions,
} from "./config.js";
export type { EmbeddedPostgresOptions } from "./embedded.js";
export { PostgresBackend } from "./postgres-backend.js";
export type { RetryPolicy } from "./retry.js";
export type { SchemaInfo, TableRef } from "./schema.js";
