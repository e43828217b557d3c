// Lint: typescript-eslint's recommended rules over sources, tests and benches, and the floors of
// src/ (docs/architecture.md): imports go down, never up, and API families never import each other.
import tseslint from 'typescript-eslint'
import layers from './eslint/layers.js'

/** Floors of src/, top to bottom. A unit is a src/ folder or a top-level file. */
export const FLOORS = [
  { units: ['runtime', 'cli'] },
  { units: ['app.ts', 'services.ts'] },
  // API families: each stands alone; what two of them share lives on a lower floor.
  { units: ['auth', 'rest', 'vault', 'storage', 'realtime'], isolated: true },
  { units: ['http'] },
  { units: ['dbtools'] },
  { units: ['schema'] },
  { units: ['db'] },
  { units: ['jwt', 'config', 'errors.ts', 'logger.ts', 'background.ts'] },
]

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.resolution/', '.aws-sam/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { layers },
    // `Services` is the contract the app hands down to every family: its type may be named below.
    rules: { 'layers/floors': ['error', { floors: FLOORS, typeOnlyFromBelow: ['services.ts'] }] },
  },
  {
    // Errors a client sees come from the catalogues (src/errors.ts and each family's errors.ts),
    // so their codes and shapes stay closed lists.
    files: ['src/**/*.ts'],
    ignores: ['src/errors.ts', 'src/*/errors.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='HttpError']", message: 'Build errors through a catalogue (appError, authError, pgrstError, VaultError …), not new HttpError(…).' },
        { selector: "ClassDeclaration[superClass.name='HttpError']", message: 'Error classes over HttpError belong in a catalogue module (src/errors.ts or <family>/errors.ts).' },
      ],
    },
  },
)
