import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

// No Docker engine runs here or in CI, so the image is not built; what can go stale without one being
// noticed is checked instead: the files the Dockerfile copies, the file its CMD starts, and the compose
// file's shape and hardening (docs/deploy.md section 10).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
// js-yaml is already in node_modules (a dependency of the dev tools); not a dependency of our own.
const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = read('Dockerfile')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** `COPY [--from=x] src... dest` as {from, sources, dest}. */
const copies = instructions
  .filter((i) => i.startsWith('COPY '))
  .map((i) => {
    const words = i.split(/\s+/).slice(1);
    const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
    return { from, sources: words.slice(0, -1), dest: words[words.length - 1]! };
  });

describe('Dockerfile', () => {
  it('copies from the build context only files that exist and that .dockerignore lets through', () => {
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext) {
      expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
      expect(dockerignore.some((pattern) => source === pattern || source.startsWith(`${pattern}/`))).toBe(false);
    }
  });

  it('copies into the runtime stage what the build stage has after `npm run build` (present here after the build)', () => {
    const fromBuild = copies.filter((c) => c.from === 'build').flatMap((c) => c.sources);
    expect(fromBuild).toEqual(expect.arrayContaining(['/src/dist', '/src/node_modules', '/src/client/dist', '/src/app/diagnostics/assets']));
    for (const source of fromBuild) {
      const local = source.replace(/^\/src\//, '');
      expect([local, existsSync(join(ROOT, local))]).toEqual([local, true]);
    }
  });

  it('copies every source file the build compiles: what app/ and scripts/ import stays inside what is copied', () => {
    const copied = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    const isCopied = (file: string) => copied.some((source) => file === source || file.startsWith(`${source}/`));
    const { include } = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    const built = include.filter(isCopied);
    expect(built).toEqual(expect.arrayContaining(['app', 'scripts']));
    // Every relative import, followed from each built file (`./x.js` is the source `./x.ts`).
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const [, specifier] of read(file).matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(ROOT, resolve(ROOT, dirname(file), specifier!)).replace(/\.js$/, '.ts');
        expect([file, target, isCopied(target)]).toEqual([file, target, true]);
        if (target.endsWith('.ts') && existsSync(join(ROOT, target))) visit(target);
      }
    };
    const sources = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sources(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
      );
    for (const dir of built) sources(dir).forEach(visit);
    expect(seen.size).toBeGreaterThan(100);
  });

  it('starts the file `npm start` starts, which the build produced', () => {
    const cmd = instructions.find((i) => i.startsWith('CMD '))!;
    expect(JSON.parse(cmd.slice(4))).toEqual(['node', 'dist/app/main.js']);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain('node dist/app/main.js');
    expect(existsSync(join(ROOT, 'dist/app/main.js'))).toBe(true);
  });

  it('runs on node:22-bookworm-slim as a non-root user with /data as its volume, a node health check and SIGTERM', () => {
    expect(instructions.filter((i) => i.startsWith('FROM ')).map((i) => i.split(/\s+/)[1])).toEqual(['node:22-bookworm-slim', 'node:22-bookworm-slim']);
    expect(instructions).toContain('USER node');
    expect(instructions).toContain('VOLUME /data');
    expect(instructions).toContain('STOPSIGNAL SIGTERM');
    expect(instructions.find((i) => i.startsWith('ENV '))).toContain('DATA_DIR=/data');
    const health = instructions.find((i) => i.startsWith('HEALTHCHECK '))!;
    expect(health).toContain('"node"');
    expect(health).toContain('/health');
    expect(health).not.toMatch(/curl|wget/);
  });
});

describe('deploy/docker-compose.yml', () => {
  const composePath = join(ROOT, 'deploy/docker-compose.yml');
  type Service = Record<string, unknown> & { security_opt?: string[]; cap_drop?: string[]; tmpfs?: string[]; volumes?: string[]; ports?: string[] };
  const compose = yaml.load(readFileSync(composePath, 'utf8')) as { services: Record<string, Service> };

  it('parses as YAML, with signalbox built from this repository and coturn', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['coturn', 'signalbox']);
    const context = resolve(dirname(composePath), compose.services.signalbox!.build as string);
    expect(existsSync(join(context, 'Dockerfile'))).toBe(true);
  });

  it.each(['signalbox', 'coturn'])('%s is hardened like the systemd unit where Compose can', (name) => {
    const service = compose.services[name]!;
    expect(service.read_only).toBe(true);
    expect(service.cap_drop).toEqual(['ALL']);
    expect(service.security_opt).toContain('no-new-privileges:true');
    expect(service.tmpfs).toContain('/tmp');
  });

  it('publishes Signalbox on loopback only (nginx on the host is the way in), with its data on a volume', () => {
    const service = compose.services.signalbox!;
    expect(service.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(service.volumes).toContain('signalbox-data:/data');
  });

  it('runs coturn on the host network with the turnserver.conf sample that exists', () => {
    const coturn = compose.services.coturn!;
    expect(coturn.network_mode).toBe('host');
    const conf = coturn.volumes!.find((v) => v.endsWith(':/etc/coturn/turnserver.conf:ro'))!;
    expect(existsSync(resolve(dirname(composePath), conf.split(':')[0]!))).toBe(true);
  });
});
