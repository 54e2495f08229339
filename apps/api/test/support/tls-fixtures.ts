/**
 * Test fixtures for servers that speak TLS or need a port known before they start: a self-signed certificate made
 * by `openssl` (on every Debian machine; Node cannot issue certificates) and a free loopback port. They assert
 * nothing.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type SelfSigned = { cert: string; key: string; pem: string };

/** A P-256 certificate for `cn`, valid `days` days, with 127.0.0.1 (and `dns`, if given) as its names. */
export async function selfSignedCertificate(
  dir: string,
  name: string,
  options: { cn?: string; dns?: string; days?: number } = {},
): Promise<SelfSigned> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const names = [...(options.dns ? [`DNS:${options.dns}`] : []), 'IP:127.0.0.1'].join(',');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(options.days ?? 2),
    '-subj',
    `/CN=${options.cn ?? name}`,
    '-addext',
    `subjectAltName=${names}`,
  ]);
  return { cert, key, pem: await readFile(cert, 'utf8') };
}

/** A loopback port free at the time of asking (for a server whose address must be known before it starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}
