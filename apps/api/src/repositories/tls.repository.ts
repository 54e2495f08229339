/**
 * Reads the certificate and key PEM files named by `TLS_CERT` / `TLS_KEY` for the server's own HTTPS listener, at
 * start and again on `SIGHUP` (a renewed certificate is picked up without a restart, as nginx and Caddy do). It
 * checks that the key belongs to the certificate and that the certificate is in date, so a mistake stops the start
 * with a message naming the variable instead of failing every handshake. It does not terminate TLS itself (Node's
 * `https` server does) and logs no key material.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { ConfigError } from './config.repository.js';

export type TlsFiles = { cert: Buffer; key: Buffer; notAfter: Date };

/** Reads and checks the pair; throws `ConfigError` naming the variable at fault. */
export async function readTlsFiles(
  paths: { certPath: string; keyPath: string },
  now: Date = new Date(),
): Promise<TlsFiles> {
  const read = async (path: string, name: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(`invalid configuration: ${name}: cannot read ${path} (${code})`);
    }
  };
  const cert = await read(paths.certPath, 'TLS_CERT');
  const key = await read(paths.keyPath, 'TLS_KEY');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`invalid configuration: TLS_CERT: ${paths.certPath} holds no PEM certificate`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(`invalid configuration: TLS_KEY: ${paths.keyPath} holds no readable private key`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError('invalid configuration: TLS_KEY does not belong to the certificate in TLS_CERT');
  }
  const notAfter = new Date(certificate.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new ConfigError(`invalid configuration: TLS_CERT: the certificate expired on ${notAfter.toISOString()}`);
  }
  return { cert, key, notAfter };
}
