// The TypeScript side of the contract: every example message is accepted by the
// client's parser (agent messages) or matches what the client sends (client
// messages), and what the client sends validates against the JSON Schemas.
import { readFileSync, readdirSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parseAgentMessage } from "../src/client.js";

const protocolDir = new URL("../../", import.meta.url);
const examplesDir = new URL("examples/", protocolDir);
const schemasDir = new URL("schemas/", protocolDir);
const ajv = new Ajv2020({ strict: false });
for (const file of readdirSync(schemasDir)) ajv.addSchema(JSON.parse(readFileSync(new URL(file, schemasDir), "utf8")), file);

const CLIENT_TYPES = new Set(["hello", "plan", "submit", "submit_set", "cancel", "resume", "list_jobs", "export", "train"]);
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith(".json") && !f.startsWith("recipe."))
  .map((file) => ({ file, message: JSON.parse(readFileSync(new URL(file, examplesDir), "utf8")) }));

function validates(message: { type: string }): boolean {
  return ajv.validate(`${message.type}.schema.json`, message);
}

describe("conformance vectors", () => {
  it("covers every message type", () => {
    const types = new Set(examples.map((e) => e.message.type));
    // One schema per message type, beside the recipe's and the binary frame header's.
    const schemas = readdirSync(schemasDir).filter((f) => !["recipe.schema.json", "binary-frame-header.schema.json"].includes(f));
    expect(types.size).toBe(schemas.length);
  });

  for (const { file, message } of examples.filter((e) => !CLIENT_TYPES.has(e.message.type))) {
    it(`parses agent example ${file}`, () => {
      expect(validates(message)).toBe(true);
      expect(parseAgentMessage(JSON.stringify(message))).toEqual(message);
    });
  }

  for (const { file, message } of examples.filter((e) => CLIENT_TYPES.has(e.message.type))) {
    it(`validates client example ${file} against its schema`, () => {
      expect(validates(message)).toBe(true);
    });
  }

  it("rejects an agent message of an unknown type", () => {
    expect(() => parseAgentMessage(JSON.stringify({ type: "surprise" }))).toThrow(/unknown message type/);
  });
});
