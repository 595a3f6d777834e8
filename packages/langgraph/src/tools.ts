/** `@deepfs/langgraph/tools`: LangChain tools over a backend's version history. */
export { type HistoryToolsOptions, historyTools } from "./history-tools.js";
