/**
 * Splits a task command line into argv the way a POSIX shell would split words, without expanding
 * anything: single quotes keep everything, double quotes keep all but `\"`, `\\`, `\$` and `` \` ``,
 * and a backslash outside quotes escapes the next character. Azure Batch runs command lines without a
 * shell; a user who wants `$VARS` or pipes wraps the line in `/bin/sh -c '...'`.
 */
export function splitCommandLine(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else current += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) current += line[++i];
      else current += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < line.length) current += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) throw new CommandLineError(`unterminated ${quote === "'" ? 'single' : 'double'} quote`);
  if (inWord) args.push(current);
  if (args.length === 0) throw new CommandLineError('the command line is empty');
  return args;
}

export class CommandLineError extends Error {}
