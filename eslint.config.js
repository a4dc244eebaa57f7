// ESLint (flat config): typescript-eslint's type-checked strict rules over the server, the SDK, the
// scripts, the benches, the tests and the TypeScript examples, plus an import-cycle check. The rules that matter most here are the
// promise ones: the server is async end to end, and a promise nobody awaits loses its error (and, in a
// request, answers before the work is done).
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['app/**/*.ts', 'client/src/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked],
    plugins: { 'import-x': importX },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    // NodeNext imports name the emitted `.js`; the source beside it is `.ts`.
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A cycle between modules makes load order decide what is undefined at import time.
      'import-x/no-cycle': 'error',
      // Store adapters and handlers implement async interfaces; the SQLite adapter is synchronous underneath,
      // so `async` without `await` is how it keeps the interface's shape (and turns throws into rejections).
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Numbers and booleans read fine in a template string; objects, null and undefined still do not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => resolve(value)` and `() => void work()` say "run this" plainly; a void value used anywhere else is still caught.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidOperator: true }],
      // tsconfig has noUncheckedIndexedAccess: `!` after a checked length or a known key is the idiom for
      // "this index exists", and the alternative (a runtime check that cannot fail) hides nothing better.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Tests and benches read response bodies (supertest's `body` is `any` by design, the benches parse
    // raw JSON) and assert on or count their shape: the no-unsafe-* family would ask for a cast before
    // every expectation, which checks nothing more.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // `createServer(app.callback())`: Koa settles every request itself (ctx.onerror), so its promise
      // handed to node:http carries nothing to handle. app/ and scripts/ keep the full check.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // expect(obj.method).toHaveBeenCalled() style references are fine in tests.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
