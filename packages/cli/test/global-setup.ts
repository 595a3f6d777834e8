import { createGlobalSetup } from "@deepfs/harness";

export default createGlobalSetup(["s3", "postgres", "docker"]);
