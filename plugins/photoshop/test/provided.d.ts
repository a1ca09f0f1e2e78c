// What protocol/client/test/agent.setup.ts provides to tests through `inject`
// (declared there too; repeated here because this tsconfig does not include it).
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    agentHttp: string;
    agentWs: string;
    agentToken: string;
  }
}
