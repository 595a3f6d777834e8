export { ensureImages, IMAGE_TAGS } from "./src/images.mjs";
export { requireOrSkipReason, serviceStatus } from "./src/service-status.mjs";
export { startServices } from "./src/start-services.mjs";
export { createGlobalSetup, vitestReporters } from "./src/vitest.mjs";
