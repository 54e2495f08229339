/**
 * Jest configuration for the whole monorepo: one project per package, all in ESM mode with SWC transforming
 * TypeScript (type checking is `npm run typecheck`'s job). Workspace packages resolve to their sources, so tests
 * never depend on a stale build.
 *
 * The server's tests are two projects, one per tier: `api-unit` (service specs in `apps/api/test/unit` against
 * in-memory repositories: no database, no network) and `api` (everything else there: real PostgreSQL, PGlite and
 * Redis). `npm run test:unit`, `test:medium` and `test:e2e` select projects by tier (see `package.json`); `npm test`
 * runs every project once.
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true, tsx: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, react: { runtime: 'automatic' } },
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts', '.tsx'],
  transform: { '^.+\\.tsx?$': swc },
  moduleNameMapper: {
    '^@cove/crypto$': '<rootDir>/../../packages/crypto/src/index.ts',
    '^@cove/protocol$': '<rootDir>/../../packages/protocol/src/index.ts',
    '^@cove/client$': '<rootDir>/../../packages/client/src/index.ts',
    '^@cove/client/node$': '<rootDir>/../../packages/client/src/node/index.ts',
    '^@cove/client/chat-preferences$': '<rootDir>/../../packages/client/src/chat-preferences.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testEnvironment: 'node',
};

const project = (dir, name, extra = {}) => ({
  ...common,
  displayName: name,
  rootDir: dir,
  testMatch: ['<rootDir>/**/*.test.ts', '<rootDir>/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  ...extra,
});

export default {
  projects: [
    project('packages/crypto', 'crypto'),
    // The interop suite again with Node's native X25519 (`useNodeX25519` of `@cove/client/node`, opt-in) instead of
    // libsodium's WebAssembly: both implementations must interoperate with libsignal.
    project('packages/crypto', 'crypto-node-x25519', {
      testMatch: ['<rootDir>/test/interop/**/*.test.ts', '<rootDir>/test/primitives.test.ts'],
      setupFiles: ['<rootDir>/test/support/use-node-x25519.ts'],
      globals: { COVE_X25519: 'node:crypto' },
    }),
    project('packages/protocol', 'protocol'),
    project('packages/client', 'client'),
    project('apps/api', 'api-unit', { testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] }),
    project('apps/api', 'api', { testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/test/unit/'] }),
    project('apps/pwa', 'pwa'),
    {
      ...project('test', 'e2e'),
      moduleNameMapper: {
        ...common.moduleNameMapper,
        '^@cove/crypto$': '<rootDir>/../packages/crypto/src/index.ts',
        '^@cove/protocol$': '<rootDir>/../packages/protocol/src/index.ts',
        '^@cove/client$': '<rootDir>/../packages/client/src/index.ts',
        '^@cove/client/node$': '<rootDir>/../packages/client/src/node/index.ts',
        '^@cove/client/chat-preferences$': '<rootDir>/../packages/client/src/chat-preferences.ts',
      },
    },
  ],
  testTimeout: 30_000,
  maxWorkers: 2,
  // Slowest files first, from recorded durations (see the sequencer), so the workers end together.
  testSequencer: '<rootDir>/test/support/duration-sequencer.cjs',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
};
