import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the CLI tests spawn the built binary.
    // `@mandate/sdk/<entry>` maps to the sources of that package export (dist/x.js -> src/x.ts).
    alias: [
      { find: /^@mandate\/sdk\/ai$/, replacement: src('sdk/src/adapters/ai-sdk.ts') },
      { find: /^@mandate\/sdk\/openai-agents$/, replacement: src('sdk/src/adapters/openai-agents.ts') },
      { find: /^@mandate\/sdk\/langchain$/, replacement: src('sdk/src/adapters/langchain.ts') },
      { find: /^@mandate\/sdk\/mcp-gateway$/, replacement: src('sdk/src/mcp-gateway/index.ts') },
      ...['core', 'engine', 'sdk', 'server'].map((pkg) => ({
        find: new RegExp(`^@mandate/${pkg}$`),
        replacement: src(`${pkg}/src/index.ts`),
      })),
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
