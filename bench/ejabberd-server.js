/**
 * Starts and stops the ejabberd baseline of the delivery benchmark (bench/delivery.bench.js): Debian's ejabberd
 * package (installed by bench/setup-ejabberd.sh), run with a private configuration, Mnesia spool and log directory
 * in a fresh temporary folder, a private Erlang node name, the client listener and Erlang's distribution bound to
 * 127.0.0.1 only, and the whole VM pinned with `taskset` to one core (EJABBERD_CORE, default 1). The configuration
 * allows what the load client (bench/xmpp-load-client.js) needs and nothing else: plain client-to-server streams
 * without TLS on loopback, SASL PLAIN, in-band registration from loopback only, no traffic shaper, no offline
 * storage or archive (ejabberd delivers to online sessions from memory: no durable store, unlike Cove). Not part of
 * `npm test`; needs root (ejabberdctl runs the VM as the `ejabberd` user).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The XMPP domain the benchmark's accounts live in (never resolved: everything is on 127.0.0.1). */
export const EJABBERD_DOMAIN = 'bench.local';

/** ejabberd.yml: one loopback c2s listener, no TLS, PLAIN, in-band registration from loopback, no shaper. */
function config(port) {
  return `hosts:
  - ${EJABBERD_DOMAIN}
loglevel: warning
hide_sensitive_log_data: true
auth_method: [internal]
auth_password_format: plain
# The benchmark registers its 2,000 accounts in band, from one address, within seconds.
registration_timeout: infinity
listen:
  -
    port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    # Stanzas carry 400 characters of base64; the default limit is far above that.
    max_stanza_size: 65536
    # Loopback only: no TLS, so PLAIN is offered on the plain stream.
    starttls: false
    starttls_required: false
    # 1,000 pairs connect in a burst.
    backlog: 1024
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  register:
    allow: all
  register_from:
    allow: loopback
  c2s:
    allow: loopback
shaper_rules:
  c2s_shaper: none
modules:
  mod_register:
    access: register
    ip_access: register_from
    welcome_message:
      subject: ""
      body: ""
`;
}

/** A free TCP port on 127.0.0.1 (closed again before ejabberd binds it). */
async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port (at most `ms`). */
async function waitForPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`ejabberd did not listen on ${port} within ${ms} ms`);
}

/** The pid of the Erlang VM (beam.smp) running the node, found by its node name on its command line. */
function beamPid(node) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('beam') && cmdline.includes(node)) return Number(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return undefined;
}

/**
 * Starts a private ejabberd. Resolves with `{ port, pid, version, stop }` (`pid`: the Erlang VM, for CPU and memory
 * readings). Throws, saying why, when the package is missing or the node does not come up.
 */
export async function startEjabberd() {
  const ctl = '/usr/sbin/ejabberdctl';
  let version;
  try {
    version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'ejabberd']).toString();
  } catch {
    throw new Error('ejabberd is not installed: run bench/setup-ejabberd.sh (as root)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'cove-ejabberd-'));
  const node = `covebench${randomBytes(4).toString('hex')}@localhost`;
  const port = await freePort();
  writeFileSync(join(dir, 'ejabberd.yml'), config(port));
  // Sourced by ejabberdctl: a private node name; epmd and the distribution port on loopback only.
  writeFileSync(
    join(dir, 'ejabberdctl.cfg'),
    `ERLANG_NODE=${node}\nERL_EPMD_ADDRESS=127.0.0.1\nINET_DIST_INTERFACE=127.0.0.1\n`,
  );
  writeFileSync(join(dir, 'inetrc'), '');
  for (const sub of ['spool', 'logs']) mkdirSync(join(dir, sub));
  const owner = execFileSync('id', ['-u', 'ejabberd']).toString().trim();
  const group = execFileSync('id', ['-g', 'ejabberd']).toString().trim();
  for (const path of [dir, join(dir, 'spool'), join(dir, 'logs'), join(dir, 'ejabberd.yml'), join(dir, 'inetrc')]) {
    chownSync(path, Number(owner), Number(group));
  }
  const args = ['--config-dir', dir, '--spool', join(dir, 'spool'), '--logs', join(dir, 'logs')];
  const core = process.env.EJABBERD_CORE ?? '1';
  // Run as the `ejabberd` user directly (ejabberdctl then skips its `su`, whose PAM session would cut the open-file
  // limit to 1,024: ejabberd refused the 994th connection), with this process's limits and a private HOME (the
  // Erlang cookie lives there).
  const asEjabberd = { uid: Number(owner), gid: Number(group), env: { ...process.env, HOME: dir } };
  const child = spawn('taskset', ['-c', core, ctl, ...args, 'foreground'], {
    ...asEjabberd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  try {
    await waitForPort(port, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${error.message}: ${stderr.slice(-500)}`, { cause: error });
  }
  const pid = beamPid(node);
  const stop = async () => {
    try {
      execFileSync(ctl, [...args, 'stop'], { ...asEjabberd, stdio: 'ignore', timeout: 30_000 });
    } catch {
      // Killed below.
    }
    for (let i = 0; i < 40 && pid && beamPid(node); i++) await sleep(250);
    if (pid && beamPid(node)) process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, pid, node, version, core, stop };
}
