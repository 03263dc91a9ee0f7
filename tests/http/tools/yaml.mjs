// yaml.mjs — the one way the OpenAPI YAML is read, shared by openapi-json
// and openapi-check (and like scripts/openapi-json.mjs): js-yaml with its JSON
// schema, which reads only what JSON can hold (no timestamps or tags).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// The paths can be overridden (M31_OPENAPI_YAML, M31_OPENAPI_JSON) to try the
// tools on other files.
export const YAML_PATH = resolve(process.env.M31_OPENAPI_YAML || join(REPO, 'openapi/openapi.yaml'));
export const JSON_PATH = resolve(process.env.M31_OPENAPI_JSON || join(REPO, 'openapi/openapi.json'));

/** Parses openapi/openapi.yaml (throws with js-yaml's line and column). */
export function loadYaml(path = YAML_PATH) {
  return yaml.load(readFileSync(path, 'utf8'), { filename: path, schema: yaml.JSON_SCHEMA });
}

/** The JSON text openapi/openapi.json must hold: 2-space indent, final newline. */
export function jsonText(doc) {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
