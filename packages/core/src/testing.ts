/** `@deepfs/core/testing`: tools for testing backends and the code that uses them. */
export * from "./with-faults.js";
