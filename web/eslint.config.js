// Lints the console (web/) and its browser test (tests/browser/); from the repository root:
//   web/node_modules/.bin/eslint -c web/eslint.config.js web tests/browser
import js from "@eslint/js";
import react from "eslint-plugin-react";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";

export default [
  { ignores: ["**/dist/", "**/node_modules/"] },
  js.configs.recommended,
  {
    files: ["**/src/**/*.{js,jsx}"],
    ...react.configs.flat.recommended,
    languageOptions: { ...react.configs.flat.recommended.languageOptions, globals: globals.browser },
    settings: { react: { version: "detect" } },
  },
  { files: ["**/src/**/*.{js,jsx}"], ...react.configs.flat["jsx-runtime"] },
  {
    files: ["**/src/**/*.{js,jsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // Props are documented by the components' callers; no PropTypes at runtime.
      "react/prop-types": "off",
    },
  },
  { files: ["**/*.mjs", "**/test/**/*.js", "**/eslint.config.js"], languageOptions: { globals: globals.node } },
  // Puppeteer runs some of the browser test's functions in the page.
  { files: ["**/browser/**/*.mjs"], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
];
