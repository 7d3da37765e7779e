// Types of thread-bundle.mjs (plain JavaScript: the media thread's boot runs it before TypeScript can load).
export function bundleDir(root: URL): URL;
export function bundleHash(root: URL, inputs: readonly string[], bundle: Uint8Array): string;
export function currentBundle(root: URL): URL | null;
