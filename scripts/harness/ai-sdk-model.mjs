export { scriptedCallId, scriptedModel } from "./src/ai-sdk-model.mjs";
