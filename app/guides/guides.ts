import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import MarkdownIt from 'markdown-it';

/** The Markdown guides served at /docs/guides/<name>, by name, with their path in the repository. */
export const GUIDES = [
  { name: 'readme', file: 'README.md', title: 'README: quick start, first call, configuration' },
  { name: 'client-guide', file: 'docs/client-guide.md', title: 'Client guide: the poll loop, signals, calls, errors' },
  { name: 'sdk', file: 'client/README.md', title: 'The client SDK (/sdk/signalbox.js)' },
  { name: 'examples', file: 'examples/README.md', title: 'Example apps' },
  { name: 'protocol', file: 'docs/protocol.md', title: 'The client protocol (normative)' },
  { name: 'deploy', file: 'docs/deploy.md', title: 'Deployment: systemd, nginx, coturn, backups' },
  { name: 'operations', file: 'docs/operations.md', title: 'Operations' },
  { name: 'security', file: 'docs/security.md', title: 'Security model and limits' },
  { name: 'push', file: 'docs/push.md', title: 'Push wake-ups' },
  { name: 'architecture', file: 'docs/architecture.md', title: 'Architecture' },
  { name: 'api', file: 'docs/api.md', title: 'API reference (Markdown)' },
] as const;

export interface Guide {
  name: string;
  file: string;
  title: string;
  /** The rendered body (HTML from Markdown, with raw HTML escaped), rendered when first read. */
  readonly html: string;
}

/** The checkout (or image) root: the folder of the package.json named signalbox, walking up from here. */
export function defaultRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'signalbox') return dir;
    dir = dirname(dir);
  }
  return dir;
}

/** GitHub's heading anchors (lower case, punctuation dropped, spaces to '-'), so links like deploy.md#1-nodejs-22 work here too. */
export function slug(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const BY_FILE = new Map<string, string>(GUIDES.map((g) => [g.file, g.name]));

/**
 * The address of a link in the guide `from`: another guide's page (with its anchor), an absolute URL or
 * this server's path as written, or null for a file of the repository that is not served (shown as text).
 */
export function linkTarget(href: string, from: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return /^(https?|mailto):/i.test(href) ? href : null;
  if (href.startsWith('#') || href.startsWith('/')) return href;
  const [path = '', anchor] = href.split('#', 2);
  const resolved = posix.normalize(posix.join(posix.dirname(from), path));
  const guide = BY_FILE.get(resolved);
  if (!guide) return null;
  return `/docs/guides/${guide}${anchor ? `#${anchor}` : ''}`;
}

/**
 * markdown-it with raw HTML off (`html: false`: any HTML in a guide is shown as text, never run; its own
 * link check refuses javascript: and data: URLs), links rewritten by `linkTarget`, and GitHub-style heading ids.
 */
function renderer(from: string): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
  md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
    const token = tokens[idx]!;
    const target = linkTarget(token.attrGet('href') ?? '', from);
    if (target === null) {
      token.attrs = [
        ['class', 'repo-path'],
        ['title', `${token.attrGet('href')} in the Signalbox repository`],
      ];
      token.tag = 'span';
      // The matching link_close becomes </span> too.
      for (let i = idx + 1; i < tokens.length; i++)
        if (tokens[i]!.type === 'link_close') {
          tokens[i]!.tag = 'span';
          break;
        }
    } else token.attrSet('href', target);
    return self.renderToken(tokens, idx, options);
  };
  // A paragraph that is only an HTML comment (a generated file's notice, a generated table's markers) is a
  // note to whoever edits the Markdown: with raw HTML off it would show as text, so the page leaves it out.
  md.core.ruler.after('block', 'drop_comment_paragraphs', (state) => {
    const t = state.tokens;
    for (let i = t.length - 3; i >= 0; i--)
      if (t[i]!.type === 'paragraph_open' && t[i + 2]!.type === 'paragraph_close' && /^<!--[\s\S]*-->$/.test(t[i + 1]!.content.trim())) t.splice(i, 3);
  });
  md.renderer.rules.heading_open = (tokens, idx, options, _env, self) => {
    const inline = tokens[idx + 1];
    if (inline?.type === 'inline') tokens[idx]!.attrSet('id', slug(inline.children?.map((c) => c.content).join('') ?? inline.content));
    return self.renderToken(tokens, idx, options);
  };
  return md;
}

/**
 * Reads every guide present under `root` (an image without docs/ serves fewer); each is rendered once, the
 * first time its `html` is read. Rendering them all at start cost every start of the server (and every app
 * the tests build) a seventh of a second of CPU, for pages a server may never be asked for.
 */
export function loadGuides(root: string = defaultRoot()): Guide[] {
  return GUIDES.flatMap((g) => {
    const path = normalize(join(root, g.file));
    if (!existsSync(path)) return [];
    const markdown = readFileSync(path, 'utf8');
    let html: string | undefined;
    return [
      {
        ...g,
        get html() {
          return (html ??= renderer(g.file).render(markdown));
        },
      },
    ];
  });
}
