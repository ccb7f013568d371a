// Swagger UI's two files, imported as files so `bun build --compile` embeds them: the
// API reference then works offline from a compiled coordinator too.
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };

const ASSETS = new Map<string, string>([
  ['swagger-ui-bundle.js', bundlePath],
  ['swagger-ui.css', cssPath],
]);

/**
 * The file for an asset name, or undefined. A Map, so a client-chosen name such as
 * `__proto__` or `constructor` finds nothing instead of an Object.prototype member.
 */
export function openapiAssetPath(name: string): string | undefined {
  return ASSETS.get(name);
}

