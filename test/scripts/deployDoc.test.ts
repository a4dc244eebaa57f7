import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const deployMd = readFileSync(fileURLToPath(new URL('../../docs/deploy.md', import.meta.url)), 'utf8');

/** The nginx site files docs/deploy.md has the reader copy (deploy/nginx/*.conf), by name. */
const NGINX_DIR = fileURLToPath(new URL('../../deploy/nginx/', import.meta.url));
const nginxFiles = readdirSync(NGINX_DIR).filter((name) => name.endsWith('.conf'));
const nginxBlocks = nginxFiles.map((name) => readFileSync(NGINX_DIR + name, 'utf8'));

/**
 * The case-insensitive regex locations (`location ~* <re> { ... return 404; ... }`) of the sample, as
 * JavaScript regexes: the paths nginx answers itself instead of proxying to Signalbox.
 */
function deniedPathPatterns(): RegExp[] {
  const out: RegExp[] = [];
  for (const block of nginxBlocks) {
    for (const m of block.matchAll(/location\s+~\*\s+(\S+)\s*\{([^}]*)\}/g)) {
      if (/return\s+40[34]\s*;|deny\s+all\s*;/.test(m[2]!)) out.push(new RegExp(m[1]!, 'i'));
    }
  }
  return out;
}

/** The path part nginx matches locations against: no query string. */
const pathOf = (url: string) => url.split('?')[0]!;

let t: TestApp;
beforeAll(() => {
  t = makeTestApp();
});
afterAll(() => t.close());

describe('deploy/nginx site files (docs/deploy.md section 4)', () => {
  it('has the nginx site files to check, and the doc copies each of them', () => {
    expect(nginxFiles.sort()).toEqual(['signalbox-http.conf', 'signalbox.conf']);
    for (const name of nginxFiles) expect(deployMd).toContain(`/opt/signalbox/deploy/nginx/${name}`);
  });

  // Each spelling Signalbox itself answers with the metrics text must be refused by the proxy.
  it.each(['/metrics', '/METRICS', '/metrics/', '/Metrics/', '/metrics?name[]=x'])('does not proxy %s, which Signalbox answers as metrics', async (url) => {
    const res = await t.http.get(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(deniedPathPatterns().some((re) => re.test(pathOf(url)))).toBe(true);
  });

  it.each(['/health', '/signaling/poll', '/users/metrics', '/users/@metrics', '/sdk/signalbox.js'])('still proxies %s', (url) => {
    expect(deniedPathPatterns().some((re) => re.test(pathOf(url)))).toBe(false);
  });
});

const turnConf = readFileSync(fileURLToPath(new URL('../../systemd/turnserver.conf', import.meta.url)), 'utf8');
const section = (n: number) => deployMd.slice(deployMd.indexOf(`## ${n}. `), deployMd.indexOf(`## ${n + 1}. `));

describe('docs/deploy.md: coturn and the steps around it', () => {
  it('makes the TURN secret in section 3, before TURN_SECRET is set, and section 5 reuses that file', () => {
    const three = section(3);
    expect(three.indexOf('openssl rand -hex 32 > /etc/signalbox/turn-secret')).toBeGreaterThan(-1);
    expect(three.indexOf('openssl rand -hex 32 > /etc/signalbox/turn-secret')).toBeLessThan(three.indexOf('TURN_SECRET="'));
    expect(section(5)).toContain('static-auth-secret=$(cat /etc/signalbox/turn-secret)');
    expect(section(5)).not.toMatch(/openssl rand/);
  });

  it('has a certbot deploy hook that copies the certificate to where turnserver.conf reads it, owned by turnserver, and restarts coturn', () => {
    const hook = /cat > \/etc\/letsencrypt\/renewal-hooks\/deploy\/coturn <<'HOOK'\n([\s\S]*?)\nHOOK/.exec(section(5))![1]!;
    const cert = /^cert=(\S+)$/m.exec(turnConf)![1]!;
    const pkey = /^pkey=(\S+)$/m.exec(turnConf)![1]!;
    expect(hook).toContain(`-o turnserver -g turnserver "/etc/letsencrypt/live/$DOMAIN/fullchain.pem" ${cert}`);
    expect(hook).toMatch(new RegExp(`install -m 0600 -o turnserver -g turnserver "/etc/letsencrypt/live/\\$DOMAIN/privkey.pem" ${pkey.replace(/\//g, '\\/')}`));
    expect(hook).toContain('systemctl restart coturn');
    expect(cert.startsWith('/etc/letsencrypt/')).toBe(false); // root-only there
  });

  it('shows how to find the addresses for external-ip and adds it only behind NAT', () => {
    expect(section(5)).toContain('ip -4 route get');
    expect(section(5)).toContain('[ "$PRIVATE" != "$PUBLIC" ] && echo "external-ip=$PUBLIC/$PRIVATE" >> /etc/turnserver.conf');
  });

  it('says when web apps need CORS_ORIGINS', () => {
    expect(section(3)).toMatch(/CORS_ORIGINS="https:\/\/app\.example\.org"/);
  });

  it('ends the TURN setup with a check through /diagnostics', () => {
    expect(section(5)).toMatch(/### Check it: \/diagnostics[\s\S]*https:\/\/chat\.example\.org\/diagnostics/);
  });
});
