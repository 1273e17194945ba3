import path from 'node:path';

/** A path the agent refuses: it leaves its directory, or goes through something that is not a plain directory or file. */
export class ConfinedPathError extends Error {}

/**
 * The components of `relative` (with '/' separators) once '.' and '..' are resolved lexically,
 * refusing one that is absolute or would climb above its base. What remains holds no '.' or '..' and can be
 * walked one component at a time from a directory held open (see PinnedDir).
 */
export function confinedComponents(relative: string): string[] {
  if (relative.includes('\0')) throw new ConfinedPathError(`the path "${relative.replaceAll('\0', '\\0')}" holds a NUL byte`);
  if (relative.startsWith('/')) throw new ConfinedPathError(`the path "${relative}" leaves its directory`);
  const parts: string[] = [];
  for (const part of relative.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new ConfinedPathError(`the path "${relative}" leaves its directory`);
      parts.pop();
    } else parts.push(part);
  }
  return parts;
}

/** The components, below `base`, of a path given relative to `from` (a directory inside `base`), or absolute. */
export function componentsBelow(base: string, from: string, relative: string): string[] {
  const resolved = path.resolve(from, relative);
  if (resolved !== base && !resolved.startsWith(base + path.sep)) throw new ConfinedPathError(`the path "${relative}" leaves its directory`);
  return confinedComponents(path.relative(base, resolved).split(path.sep).join('/'));
}
