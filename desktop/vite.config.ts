import { defineConfig } from "vite";

// Tauri loads the built files from dist/; no dev server is needed for the tests.
export default defineConfig({
  clearScreen: false,
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: { port: 1420, strictPort: true },
});
