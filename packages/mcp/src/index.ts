export { failure, success } from "./results.js";
export {
  type HttpMcpServer,
  type HttpServeOptions,
  type RunningServer,
  type StdioServeOptions,
  serveHttp,
  serveStdio,
} from "./serve.js";
export { createMcpServer, type McpServerOptions, READ_TOOLS, WRITE_TOOLS } from "./server.js";
export { HISTORY_READ_TOOLS, HISTORY_WRITE_TOOLS, hasHistoryMethods, keepsHistory } from "./tools-history.js";
