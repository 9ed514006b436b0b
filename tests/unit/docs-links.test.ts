import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/paths';

/** The pages a reader follows links between: the READMEs and everything in docs/. */
const pages = [
  'README.md',
  'web/README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** Markdown without its fenced code blocks. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** Markdown without what is shown as code, where `[a](b)` is not a link. */
function prose(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, title] of withoutFences(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = title!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** What is wrong with each relative link of a page: a missing file, or an anchor no heading of its target has. */
function brokenLinks(page: string): string[] {
  const text = readFileSync(path.join(ROOT, page), 'utf8');
  const problems: string[] = [];
  for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
    const [file = '', anchor] = target!.split('#');
    const resolved = file === '' ? path.join(ROOT, page) : path.resolve(ROOT, path.dirname(page), file);
    if (!existsSync(resolved)) {
      problems.push(`${page}: (${target}) names a file that does not exist`);
    } else if (anchor !== undefined) {
      const headings = statSync(resolved).isFile() ? anchors(readFileSync(resolved, 'utf8')) : new Set<string>();
      if (!headings.has(anchor)) {
        problems.push(`${page}: (${target}) names no heading of ${path.relative(ROOT, resolved)}`);
      }
    }
  }
  return problems;
}

/** A markdown table's rows as cells, keyed by the first cell. */
function tableRows(markdown: string, header: string): Map<string, string[]> {
  const start = markdown.indexOf(header);
  if (start < 0) throw new Error(`no table headed ${header}`);
  const rows = new Map<string, string[]>();
  for (const line of markdown.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(' | ').map((cell) => cell.replace(/^\| |\s\|$/g, '').trim());
    rows.set(cells[0]!, cells);
  }
  return rows;
}

test.each(pages)('every relative link and anchor in %s resolves', (page) => {
  expect(brokenLinks(page)).toEqual([]);
});

test('the docs pages are all linked from the README', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const unlinked = pages.filter((page) => page.startsWith('docs/') && !readme.includes(`](${page}`));
  expect(unlinked).toEqual([]);
});

test("the README's variables are in the full table of docs/operations.md, with the same defaults", () => {
  const short = tableRows(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), '| variable | default | meaning |');
  const full = tableRows(
    readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8'),
    '| variable | default | services | meaning |',
  );
  expect(short.size).toBeGreaterThan(5);
  for (const [variable, [, defaults]] of short) {
    expect([variable, full.get(variable)?.[1]]).toEqual([variable, defaults]);
  }
});
