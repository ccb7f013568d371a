// The OpenAPI document: valid OpenAPI 3.1 by an independent validator
// (@apidevtools/swagger-parser 13, which supports 3.1.x), lists every /api route the app
// really serves with request and error schemas, and the reference UI loads only assets
// the coordinator serves itself (works offline).
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { makeTempDir } from '../helpers/media';

interface Operation {
  parameters?: { name: string; in: string; schema?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Spec = { openapi: string; paths: Record<string, Record<string, Operation>> };

setLogLevel('silent');
const temp = makeTempDir('openapi');
let c: RunningCoordinator;
let base: string;
let spec: Spec;

beforeAll(async () => {
  const config = parseCoordinatorConfig({
    TVARR_DATABASE_PATH: `${temp.dir}/coordinator.db`,
    TVARR_GRPC_ENABLED: 'false',
    TVARR_HTTP_HOST: '127.0.0.1',
    TVARR_HTTP_PORT: '0',
  });
  c = await startCoordinator(config, createLogger('test'));
  base = `http://127.0.0.1:${c.httpPort}`;
  const res = await fetch(`${base}/openapi/json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as Spec;
});

afterAll(async () => {
  await c?.stop();
  temp.cleanup();
});

test('the document is valid OpenAPI 3.1 (swagger-parser validates schemas and $refs)', async () => {
  expect(spec.openapi).toMatch(/^3\.1\./);
  // validate() dereferences in place: give it a copy.
  await SwaggerParser.validate(structuredClone(spec) as never);
});

test('every /api route the app serves is in the document, and nothing else under /api', () => {
  const served = c.app.routes
    .filter((r) => r.path.startsWith('/api/'))
    .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, '{$1}')}`)
    .sort();
  const documented = Object.entries(spec.paths)
    .filter(([path]) => path.startsWith('/api/'))
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`))
    .sort();
  expect(served.length).toBeGreaterThan(15);
  expect(documented).toEqual(served);
  for (const must of ['get /api/cluster', 'get /api/metrics', 'post /api/workers/{id}/drain', 'post /api/workers/{id}/resume', 'post /api/jobs/{id}/cancel']) {
    expect(documented).toContain(must);
  }
});

test('each /api operation documents its success schema, its error responses and its inputs', () => {
  for (const [path, item] of Object.entries(spec.paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      const statuses = Object.keys(op.responses ?? {});
      const success = statuses.filter((s) => s.startsWith('2'));
      expect(success.length, `${where}: no 2xx response`).toBeGreaterThan(0);
      for (const s of success) {
        if (s === '204') expect(op.responses![s]!.content, `${where}: 204 has a body`).toBeUndefined();
        else expect(op.responses![s]!.content?.['application/json']?.schema, `${where}: ${s} has no JSON schema`).toBeDefined();
      }
      const errors = statuses.filter((s) => /^[45]/.test(s));
      expect(errors.length, `${where}: no error responses`).toBeGreaterThan(0);
      for (const s of errors) {
        const schema = op.responses![s]!.content?.['application/json']?.schema as { properties?: Record<string, unknown> } | undefined;
        expect(schema?.properties?.error, `${where}: ${s} is not the ErrorBody shape`).toBeDefined();
      }
      for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
        const p = op.parameters?.find((x) => x.in === 'path' && `{${x.name}}` === name);
        expect(p?.schema, `${where}: path parameter ${name} undocumented`).toBeDefined();
      }
      if (method === 'post' || method === 'patch') {
        if (op.requestBody) expect(op.requestBody.content?.['application/json']?.schema, `${where}: body has no schema`).toBeDefined();
        expect(statuses, `${where}: writes can be refused by the admin token`).toContain('401');
      }
    }
  }
});

test('the API reference UI at /openapi loads its assets from the coordinator, not a CDN', async () => {
  const res = await fetch(`${base}/openapi`);
  expect(res.status).toBe(200);
  const html = await res.text();
  const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(urls.length).toBeGreaterThanOrEqual(2);
  for (const url of urls) expect(url.startsWith('/')).toBe(true);
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).toContain('"validatorUrl":null'); // no badge fetched from validator.swagger.io
  for (const url of urls) {
    const asset = await fetch(base + url);
    expect(asset.status).toBe(200);
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  }
});
