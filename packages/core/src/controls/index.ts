export * from "./audit.js";
export { PermissionDriver, refusedExecution } from "./permission-driver.js";
export * from "./permission-rules.js";
export * from "./quota-driver.js";
export * from "./with-permissions.js";
export * from "./with-quota.js";
