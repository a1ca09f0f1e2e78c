// Generates src/messages.gen.ts from protocol/schemas: the TypeScript view of the
// same contract the Python codec defines. `--check` fails when the file is stale.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const schemaDir = join(here, "..", "..", "schemas");
const target = join(here, "..", "src", "messages.gen.ts");

// Pydantic titles every property; without this each field becomes its own named alias.
function untitled(node) {
  if (Array.isArray(node)) return node.map(untitled);
  if (node === null || typeof node !== "object") return node;
  // A $ref with a description or default beside it would otherwise become a new named copy.
  if (typeof node.$ref === "string") return { $ref: node.$ref };
  const { title, ...rest } = node;
  return Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, untitled(value)]));
}

const defs = {};
const messages = [];
for (const file of readdirSync(schemaDir).filter((f) => f.endsWith(".schema.json")).sort()) {
  const schema = JSON.parse(readFileSync(join(schemaDir, file), "utf8"));
  const { $defs = {}, $id, $schema, ...body } = schema;
  for (const [name, def] of Object.entries($defs)) defs[name] = { ...untitled(def), title: name };
  defs[schema.title] = { ...untitled(body), title: schema.title };
  messages.push(schema.title);
}
const root = {
  title: "ProtocolV1",
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(messages.map((name) => [name, { $ref: `#/$defs/${name}` }])),
  $defs: defs,
};
const banner = "/* Generated from protocol/schemas by scripts/gen-types.mjs; do not edit. */";
const output = await compile(root, "ProtocolV1", {
  bannerComment: banner,
  additionalProperties: false,
  unreachableDefinitions: true,
  style: { printWidth: 110 },
});
if (process.argv.includes("--check")) {
  if (readFileSync(target, "utf8") !== output) {
    console.error("src/messages.gen.ts is stale: run `npm run gen:types`.");
    process.exit(1);
  }
} else {
  writeFileSync(target, output);
}
