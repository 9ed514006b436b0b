import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/paths';

/** What the pure core may import: data structures and validation, nothing that does I/O or knows GraphQL. */
const ALLOWED = [/^immer$/, /^zod$/, /^escape-html$/, /^\.\.?\//];
const ALLOWED_LIB = ['lib/hash-trie', 'lib/store', 'lib/unreachable', 'lib/viewer'];

const pureFiles = ['users', 'notifications'].flatMap((service) => {
  const src = join(ROOT, 'subgraphs', service, 'src');
  return [...readdirSync(join(src, 'domain')).map((name) => join(src, 'domain', name)), join(src, 'errors.ts')];
});

describe('the domains and error catalogs', () => {
  it.each(pureFiles.map((file) => [relative(ROOT, file), file]))('%s imports no I/O, no GraphQL, no logger', (_, file) => {
    const specifiers = [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)].map(([, specifier]) => specifier!);
    const refused = specifiers.filter((specifier) => {
      if (!ALLOWED.some((pattern) => pattern.test(specifier))) return true;
      if (!specifier.includes('/lib/')) return false;
      return !ALLOWED_LIB.includes(relative(ROOT, join(file, '..', specifier)));
    });
    expect(refused).toEqual([]);
  });
});

const sourcesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourcesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

describe('lib/, the ground floor', () => {
  it.each(sourcesUnder(join(ROOT, 'lib')).map((file) => [relative(ROOT, file), file]))('%s imports no service and nothing above them', (_, file) => {
    const above = [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)]
      .map(([, specifier]) => specifier!)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => relative(ROOT, join(file, '..', specifier)))
      .filter((target) => !target.startsWith('lib/'));
    expect(above).toEqual([]);
  });
});
