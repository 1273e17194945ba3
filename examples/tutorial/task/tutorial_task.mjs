#!/usr/bin/env node
// The tutorial's task: what python_tutorial_task.py does in the Azure Batch Python tutorial, in
// plain JavaScript for `node`, with no dependencies. The pool's start task copied this file into
// $AZ_BATCH_NODE_SHARED_DIR; each task runs it on one input file (a resource file the node
// downloaded into the task's working directory):
//
//   node $AZ_BATCH_NODE_SHARED_DIR/tutorial_task.mjs --filepath taskdata1.txt --numwords 3
//        --storageaccount <account> --storagecontainer output --sastoken "<container SAS>"
//        [--blobendpoint <the account's blob URL>]
//
// It counts the words of the file, writes the top N to <name>_OUTPUT.txt and uploads that file to
// the container with nothing but the container's SAS (write permission): no account key and no SDK
// on the node, one HTTP PUT of a block blob.
//
// Words as the original counts them: split at whitespace, ASCII punctuation stripped from both
// ends, case kept (`The` and `the` are two words); ties keep the order of first appearance, as
// Python's Counter.most_common does. Unlike the original, tokens that were only punctuation are
// not counted as the empty word.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const PUNCTUATION = `!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`;

/** Strips the characters of string.punctuation from both ends of a word. */
function strip(word) {
  let start = 0;
  let end = word.length;
  while (start < end && PUNCTUATION.includes(word[start])) start++;
  while (end > start && PUNCTUATION.includes(word[end - 1])) end--;
  return word.slice(start, end);
}

/** The `n` most common words of `text`, most common first. */
export function topWords(text, n) {
  const counts = new Map();
  for (const raw of text.split(/\s+/)) {
    const word = strip(raw);
    if (word) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  // Array.prototype.sort is stable: equal counts keep their first-appearance order.
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      filepath: { type: 'string' },
      numwords: { type: 'string' },
      storageaccount: { type: 'string' },
      storagecontainer: { type: 'string' },
      sastoken: { type: 'string' },
      // Not in the original, which could only talk to <account>.blob.core.windows.net.
      blobendpoint: { type: 'string' },
    },
  });
  for (const name of ['filepath', 'numwords', 'storageaccount', 'storagecontainer', 'sastoken']) {
    if (!args[name]) throw new Error(`--${name} is required`);
  }
  const numWords = Number(args.numwords);
  if (!Number.isInteger(numWords) || numWords < 1) throw new Error('--numwords must be a positive integer');

  const inputFile = fs.realpathSync(args.filepath);
  const { dir, name, ext } = path.parse(args.filepath);
  const outputFile = path.join(dir, `${name}_OUTPUT${ext}`);

  const lines = topWords(fs.readFileSync(inputFile, 'utf8'), numWords).map(([word, count]) => `${word}: ${count}\n`);
  fs.writeFileSync(outputFile, lines.join(''));

  // The container SAS is all the write access this task has: a URL to one blob in the container,
  // signed by the token, and a PUT.
  const endpoint = (args.blobendpoint ?? `https://${args.storageaccount}.blob.core.windows.net`).replace(/\/+$/, '');
  const blobName = path.basename(outputFile);
  const url = `${endpoint}/${args.storagecontainer}/${encodeURIComponent(blobName)}?${args.sastoken.replace(/^\?/, '')}`;
  const outputFilePath = fs.realpathSync(outputFile);
  console.log(`Uploading file ${outputFilePath} to container [${args.storagecontainer}]...`);
  const body = fs.readFileSync(outputFilePath);
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-08-06', 'content-type': 'text/plain; charset=utf-8' },
    body,
  });
  if (response.status !== 201) {
    throw new Error(`the upload of ${blobName} failed: ${response.status} ${response.statusText}\n${await response.text()}`);
  }
  process.stdout.write(lines.join(''));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
