/**
 * Type-aware lint for the whole monorepo, plus the boundary rules that keep layers honest:
 * packages/crypto and packages/protocol are pure (no Node, DOM, network, storage, timers or ambient randomness),
 * only apps/api/src/repositories touches infrastructure, the api's layers import only downwards
 * (controllers → services → repositories), no module imports itself back through a cycle, only
 * apps/pwa/src/platform touches browser storage and service-worker APIs, and the PWA's layers import downwards only
 * (ui → app → platform).
 */
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const infrastructure = [
  '@prisma/*',
  'bullmq',
  'ioredis',
  'web-push',
  'ws',
  'pg',
  '@electric-sql/*',
  'pglite-prisma-adapter',
  '@tus/*',
  '@aws-sdk/*',
];

/** Imports a pure package may not use: Node's modules, and anything doing network, storage or UI. */
const pureImports = (pkg) => [
  {
    group: ['node:*', 'fs', 'path', 'crypto', 'net', 'http', 'https', 'os', 'child_process'],
    message: `${pkg} is pure: no Node imports.`,
  },
  {
    group: ['ws', 'pg', '@prisma/*', 'idb', 'react', 'react-dom', '@signalapp/*'],
    message: `${pkg} is pure: no network, storage or UI.`,
  },
];

/** Globals a pure package may not touch: the DOM, network, storage, Node's process and buffers, timers. */
const impureGlobals = [
  'window',
  'document',
  'fetch',
  'indexedDB',
  'localStorage',
  'navigator',
  'WebSocket',
  'XMLHttpRequest',
  'process',
  'Buffer',
  'setTimeout',
  'setInterval',
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/generated/**',
      'coverage/**',
      'test-results/**',
      'apps/pwa/dev-dist/**',
      '**/*.cjs',
      'data/**',
      'packages/*/bin/**',
      '**/.prof/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      'prefer-promise-reject-errors': 'off',
    },
  },
  {
    files: [
      '**/*.test.ts',
      '**/*.spec.ts',
      '**/test/**/*.{ts,mjs}',
      'bench/**/*.{ts,js,mjs}',
      '**/bench/**/*.{ts,js,mjs}',
      '**/scripts/**/*.{ts,mjs}',
    ],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='only']", message: 'No focused tests.' },
        {
          selector: 'CallExpression[callee.name=/^(xit|xdescribe|fit|fdescribe)$/]',
          message: 'No skipped or focused tests.',
        },
      ],
    },
  },
  {
    /** Plain JavaScript (configs, benchmarks, loader hooks) is linted without type information. */
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null } },
  },
  {
    files: ['packages/crypto/src/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': ['error', { patterns: pureImports('packages/crypto') }],
      'no-restricted-globals': [
        'error',
        ...impureGlobals,
        { name: 'crypto', message: 'Take randomness from primitives/random.ts (libsodium) so tests can inject it.' },
      ],
    },
  },
  {
    /** Wire types are data: the server and every client (browser, service worker, Node) run the same code. */
    files: ['packages/protocol/src/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': ['error', { patterns: pureImports('packages/protocol') }],
      'no-restricted-globals': [
        'error',
        ...impureGlobals,
        { name: 'crypto', message: 'packages/protocol does no cryptography: the server checks, clients encrypt.' },
      ],
    },
  },
  {
    files: ['apps/api/src/**/*.ts'],
    ignores: ['apps/api/src/repositories/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: infrastructure, message: 'Only apps/api/src/repositories touches infrastructure.' }] },
      ],
    },
  },
  {
    /**
     * Import cycles anywhere in the sources (tests and benchmarks may import freely). Resolution follows the ESM
     * convention of the sources: `./x.js` names `./x.ts`.
     */
    files: ['{apps,packages}/*/src/**/*.{ts,tsx}'],
    plugins: { 'import-x': importX },
    settings: {
      /** Packages are leaves here: a cycle through a dependency or a workspace package's build is not ours to find. */
      'import-x/ignore': ['node_modules', '/dist/'],
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.tsx', '.js', '.mjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.tsx', '.js'] },
        }),
      ],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    /** The api's layers: a controller calls services, a service calls repositories, never the other way round. */
    files: ['apps/api/src/**/*.ts'],
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: 'apps/api/src',
          zones: [
            {
              target: './controllers',
              from: './repositories',
              message: 'Controllers call services; only services use repositories.',
            },
            { target: './services', from: './controllers', message: 'Services never depend on controllers.' },
            {
              target: './repositories',
              from: ['./services', './controllers'],
              message: 'Repositories are the bottom layer: they know no service or controller.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/pwa/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['apps/pwa/src/**/*.{ts,tsx}'],
    ignores: ['apps/pwa/src/platform/**'],
    rules: {
      'no-restricted-globals': ['error', 'indexedDB', 'localStorage', 'navigator', 'caches'],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='self'][property.name='registration']",
          message: 'Only platform/ touches the service worker.',
        },
      ],
    },
  },
  // PWA layering, ui → app → platform (apps/pwa/README.md): the UI renders the app's view models, the app layer
  // receives the browser through its AppPlatform interface, and the platform (the service worker included) knows
  // neither. Only main.tsx, the composition root, imports all three. Sources import `./x.js` for `./x.ts(x)`.
  {
    files: ['apps/pwa/src/**/*.{ts,tsx}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.tsx', '.js'], extensionAlias: { '.js': ['.ts', '.tsx', '.js'] } }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: [
            {
              target: 'apps/pwa/src/ui',
              from: 'apps/pwa/src/platform',
              message: 'The UI reaches the browser through the app layer (ui → app → platform).',
            },
            {
              target: 'apps/pwa/src/app',
              from: ['apps/pwa/src/ui', 'apps/pwa/src/platform'],
              message: 'The app layer renders nothing and receives the platform (app/app-platform.ts) from main.tsx.',
            },
            {
              target: 'apps/pwa/src/platform',
              from: ['apps/pwa/src/app', 'apps/pwa/src/ui'],
              message: 'The platform implements app/app-platform.ts by shape and imports neither the app nor the UI.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/client/src/**/*.ts'],
    ignores: ['packages/client/src/node/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'ws'],
              message: 'The client core is platform-free; Node code lives in src/node.',
            },
          ],
        },
      ],
    },
  },
  {
    /** The client core runs in browsers and service workers too: no Node globals outside src/node. */
    files: ['packages/client/src/**/*.ts'],
    ignores: ['packages/client/src/node/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', 'module', '__dirname', '__filename', 'global', 'setImmediate'].map(
          (name) => ({
            name,
            message: 'The client core is platform-free: reach Node through the Platform (src/node).',
          }),
        ),
      ],
    },
  },
);
