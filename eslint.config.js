// Lint configuration. Besides the recommended rules it enforces the import direction of the
// architecture: daemon|operator -> cells -> pkg. pkg/ never imports cells/, daemon/ or operator/;
// a cell imports another cell only through that cell's public entry (cell.ts or types.ts).
import { defineConfig } from "eslint/config";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const upward = (what) => ({ regex: `(^|/)(${what})(/|$)`, message: `this layer must not import ${what}/` });
const dynamicImport = (what) => ({
  selector: `ImportExpression[source.value=/(^|\\u002F)(${what})(\\u002F|$)/]`,
  message: `this layer must not import ${what}/ (dynamic import)`,
});

export default defineConfig(
  { ignores: ["dist/**", "node_modules/**", "bpf/**", "examples/**/*.js", ".prof/**"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  { files: ["**/*.js", "**/*.mjs", "**/*.cjs"], extends: [tseslint.configs.disableTypeChecked] },
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true, allowNullish: true, allowRegExp: true }],
      "@typescript-eslint/unbound-method": "off",
    },
  },
  { files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"], rules: { "@typescript-eslint/no-floating-promises": "off" } },
  {
    files: ["pkg/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [upward("cells"), upward("daemon"), upward("operator")] }],
      "no-restricted-syntax": ["error", dynamicImport("cells|daemon|operator")],
    },
  },
  {
    files: ["cells/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          upward("daemon"), upward("operator"),
          // Another cell is reached only through its public entry: cells/<x>/cell.js or cells/<x>/types.js.
          { regex: "^\\.\\./[a-z0-9-]+/(?!(cell|types)\\.js$).+", message: "import another cell only through its cell.ts or types.ts" },
        ],
      }],
      "no-restricted-syntax": ["error", dynamicImport("daemon|operator")],
    },
  },
  {
    files: ["operator/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [upward("daemon")] }] },
  },
);
