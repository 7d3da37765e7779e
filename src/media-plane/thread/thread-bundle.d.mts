// Types of thread-bundle.mjs (plain JavaScript: the build script runs it without TypeScript hooks).
export function bundleDir(root: URL): URL;
export function bundleHash(root: URL, inputs: readonly string[], bundle: Uint8Array): Promise<string>;
export function currentBundle(root: URL): Promise<URL | null>;
