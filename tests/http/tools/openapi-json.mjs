#!/usr/bin/env node
// openapi-json — regenerates openapi/openapi.json from openapi/openapi.yaml
// (2-space indent, trailing newline). The node embeds the JSON at build
// time, so run this after editing the YAML, then `make`.
//   node tests/http/tools/openapi-json.mjs
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { JSON_PATH, REPO, YAML_PATH, jsonText, loadYaml } from './yaml.mjs';

let doc;
try {
  doc = loadYaml();
} catch (e) {
  console.error(`openapi-json: ${relative(REPO, YAML_PATH)} does not parse: ${e.message}`);
  process.exit(1);
}
writeFileSync(JSON_PATH, jsonText(doc));
console.log(`openapi-json: wrote ${relative(REPO, JSON_PATH)} from ${relative(REPO, YAML_PATH)}`);
