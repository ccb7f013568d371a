// Swagger UI's two files, imported as files so `bun build --compile` embeds them: the
// API reference then works offline from a compiled coordinator too.
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };

export const OPENAPI_ASSETS: Readonly<Record<string, string>> = Object.freeze({
  'swagger-ui-bundle.js': bundlePath,
  'swagger-ui.css': cssPath,
});
