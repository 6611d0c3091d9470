/**
 * Unit tests of the pure modules (no JupyterLab application needed): ts-jest
 * compiles the `*.spec.ts` files under test/ with `tsconfig.test.json`.
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testRegex: '\\.spec\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
