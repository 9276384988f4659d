/**
 * ESLint flat config: neostandard (the Fastify org's standard style, formatting through @stylistic) with
 * TypeScript and semicolons, plus a 120-column limit and no `any`. `npm run lint:fix` applies the
 * autofixable part.
 */
import neostandard, { resolveIgnoresFromGitignore } from 'neostandard';

export default [
  // .gitignore already lists what is built or generated (dist/, node_modules/, .tap/, coverage/).
  ...neostandard({ ts: true, semi: true, ignores: resolveIgnoresFromGitignore() }),
  {
    name: 'tollgate/style',
    rules: {
      // A URL or a regular expression reads worse broken over lines; every other line, strings
      // included, wraps (ignoreStrings would exempt any line that merely contains a string).
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // `void promise` is how this code says a promise is deliberately not awaited (in statements and in
      // arrow bodies such as `setInterval(() => void this.beat())`).
      'no-void': 'off',
      // `function name(` as this code has always written it; anonymous functions and async arrows keep
      // neostandard's space (`function ()`, `async () =>`).
      '@stylistic/space-before-function-paren': [
        'error',
        { named: 'never', anonymous: 'always', asyncArrow: 'always' },
      ],
      // neostandard leaves dangling commas in arrays, objects, imports and exports to taste (and only warns
      // here); this code also puts one after the last argument or parameter of a call or signature broken
      // over lines.
      '@stylistic/comma-dangle': ['warn', {
        arrays: 'ignore',
        enums: 'ignore',
        exports: 'ignore',
        imports: 'ignore',
        objects: 'ignore',
        functions: 'ignore',
      }],
    },
  },
  {
    name: 'tollgate/typescript',
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // neostandard's options, plus: a name starting with `_` is a value that must be bound but is not
      // read (`for await (const _chunk of stream)` drains a stream).
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'none',
        caughtErrors: 'none',
        ignoreRestSiblings: true,
        vars: 'all',
        varsIgnorePattern: '^_',
      }],
    },
  },
];
