import { createGlobalSetup } from "@deepfs/harness";

export default createGlobalSetup(["postgres"]);
