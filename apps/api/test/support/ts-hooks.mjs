/**
 * Node module hooks that run the server's TypeScript sources directly in a child process, the way Jest does
 * (SWC with legacy decorators and decorator metadata, which Nest's dependency injection needs and esbuild-based
 * runners lack): `.js` specifiers fall back to their `.ts` file and `@cove/*` packages resolve to their sources.
 * Test support only.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { transform } from '@swc/core';

const root = new URL('../../../../', import.meta.url);
const workspaces = {
  '@cove/crypto': 'packages/crypto/src/index.ts',
  '@cove/protocol': 'packages/protocol/src/index.ts',
  '@cove/client': 'packages/client/src/index.ts',
};

export async function resolve(specifier, context, next) {
  const mapped = workspaces[specifier];
  if (mapped) return { url: new URL(mapped, root).href, shortCircuit: true, format: 'module' };
  if ((specifier.startsWith('.') || specifier.startsWith('/')) && specifier.endsWith('.js') && context.parentURL) {
    const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (!existsSync(fileURLToPath(new URL(specifier, context.parentURL))) && existsSync(fileURLToPath(candidate))) {
      return { url: candidate.href, shortCircuit: true, format: 'module' };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const { code } = await transform(source, {
    filename: fileURLToPath(url),
    sourceMaps: 'inline',
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'es6' },
  });
  return { format: 'module', source: code, shortCircuit: true };
}

export { pathToFileURL };
