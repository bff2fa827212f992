import { defineConfig } from "vite";

// JSX is compiled by Vite's built-in esbuild; no plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true },
});
