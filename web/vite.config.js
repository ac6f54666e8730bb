import { defineConfig } from 'vite';

// The build is embedded in the gridledger binary (web/embed.go) and served
// at any path, so asset URLs are relative; it is committed, so it must be
// byte-for-byte reproducible from the sources.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    // Every browser the dashboard supports (WebCrypto Ed25519) has module preload.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npm run dev` against `gridledger run --api-addr 127.0.0.1:8099`.
    proxy: { '/api': { target: 'http://127.0.0.1:8099', changeOrigin: false } },
  },
});
