// What the OpenAPI plugin cannot infer from route schemas, added to the document in one
// place, the same way the behaviour itself lives in one place:
// - a t.Void() response (204) comes out as `content: { type: 'void' }`, which is not a
//   media-type map and fails OpenAPI 3.1 validation: a body-less response has no content;
// - every /api route can answer 500 (app.ts onError), and every /api write can answer
//   401 (admin token, admin-auth.ts) and 413 (body size): documented with ErrorBody;
// - the admin token is declared as a bearer security scheme on those writes.
// Registered before the openapi plugin so its global hook covers the spec route.
import { Elysia } from 'elysia';
import { ErrorBody } from './schemas';

const VOID_TYPES = new Set(['void', 'null', 'undefined']);
const SAFE_METHODS = new Set(['get', 'head', 'options']);

interface Operation {
  responses?: Record<string, { description?: string; content?: Record<string, unknown> }>;
  security?: Record<string, string[]>[];
}
interface Doc {
  paths?: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown>; [k: string]: unknown };
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBody } } });

/** Idempotent; mutates and returns the document. */
export function completeOpenApiDocument(doc: Doc): Doc {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item ?? {})) {
      if (!op || typeof op !== 'object') continue;
      for (const response of Object.values(op.responses ?? {})) {
        const type = response?.content?.type;
        if (typeof type === 'string' && VOID_TYPES.has(type)) delete response.content;
      }
      if (!path.startsWith('/api/')) continue;
      const responses = (op.responses ??= {});
      responses['500'] ??= errorResponse('Unexpected server error (logged with its cause)');
      if (!SAFE_METHODS.has(method)) {
        responses['401'] ??= errorResponse('Admin token missing or wrong (TVARR_ADMIN_TOKEN, or the one generated at first start)');
        responses['403'] ??= errorResponse('Cross-site request (Origin, Sec-Fetch-Site) or a Host this coordinator is not served under');
        responses['415'] ??= errorResponse('Body is not application/json (form and text/plain bodies are refused)');
        responses['413'] ??= errorResponse('Request body larger than TVARR_API_MAX_BODY_BYTES');
        op.security ??= [{ adminToken: [] }];
      }
    }
  }
  doc.components ??= {};
  doc.components.securitySchemes = {
    ...doc.components.securitySchemes,
    adminToken: { type: 'http', scheme: 'bearer', description: 'TVARR_ADMIN_TOKEN (generated at first start when unset): required for every write; reads without it show source URLs and worker addresses redacted' },
  };
  return doc;
}

export function openapiDocumentCompletion(specPath: string) {
  return new Elysia({ name: 'openapi-document-completion' }).onAfterHandle({ as: 'global' }, ({ path, responseValue }) => {
    if (path === specPath && responseValue && typeof responseValue === 'object' && !(responseValue instanceof Response)) {
      completeOpenApiDocument(responseValue as Doc);
    }
  });
}
