/**
 * A minimal XMPP client for the delivery benchmark's ejabberd baseline (bench/ejabberd-baseline.js), written for
 * load generation only: plain TCP client-to-server streams on loopback (no TLS, which the benchmark's private
 * ejabberd configuration allows on 127.0.0.1 only), in-band registration (XEP-0077), SASL PLAIN, resource binding,
 * initial presence, then `<message type='chat'>` stanzas out and in. It is not a general XMPP parser: it reads
 * only the server's answers the steps above expect and the `<message>` stanzas addressed to it, scanning the
 * stream text for the closing tags it needs (ejabberd serializes each stanza in one piece and escapes `<` inside
 * text, so `</message>` cannot occur inside a stanza). No XMPP library is involved, so the load generator's cost per
 * message is comparable with the JSON-over-WebSocket one it uses for Cove and the bare relay.
 */
import { connect as tcpConnect } from 'node:net';

const STREAM_NS = 'http://etherx.jabber.org/streams';

/** Escapes the five XML special characters of an attribute value or text node. */
function escapeXml(text) {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

/** The value of attribute `name` in an element's start tag (either quote), or undefined. */
function attribute(stanza, name) {
  const m = new RegExp(`\\s${name}=(['"])([^'"]*)\\1`).exec(stanza.slice(0, stanza.indexOf('>') + 1));
  return m?.[2];
}

/**
 * One authenticated XMPP session. `connectXmpp` resolves once the stream is bound and presence sent; `onMessage`
 * then gets `{ id, from, body }` for every incoming `<message>` stanza.
 */
export function connectXmpp({ port, host = '127.0.0.1', domain, username, password, resource, register = false }) {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ port, host });
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    let buffer = '';
    /** What the session waits for next: a function consuming the buffer, returning false when it needs more. */
    let step;
    let onMessage = () => {};
    const fail = (why) => {
      socket.destroy();
      reject(new Error(`xmpp ${username}: ${why}`));
    };
    const openStream = () =>
      socket.write(
        `<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' ` +
          `xmlns:stream='${STREAM_NS}' version='1.0'>`,
      );
    /** Waits for `</stream:features>` (after a stream header), then runs `next`. */
    const afterFeatures = (next) => () => {
      const end = buffer.indexOf('</stream:features>');
      if (end < 0) return false;
      buffer = buffer.slice(end + '</stream:features>'.length);
      next();
      return true;
    };
    /** Waits for the complete `<iq ... id='ID'>` answer, checks its type, then runs `next`. */
    const afterIq = (id, next) => () => {
      const start = buffer.search(new RegExp(`<iq [^>]*id=['"]${id}['"]`));
      if (start < 0) return false;
      const head = buffer.slice(start, buffer.indexOf('>', start) + 1);
      const selfClosing = head.endsWith('/>');
      const close = selfClosing ? start + head.length : buffer.indexOf('</iq>', start);
      if (close < 0) return false;
      const stanza = buffer.slice(start, selfClosing ? close : close + 5);
      buffer = buffer.slice(selfClosing ? close : close + 5);
      if (attribute(stanza, 'type') !== 'result') {
        // A registration that already exists (a reused spool) is not an error for the benchmark.
        if (id === 'reg' && stanza.includes('<conflict')) {
          next();
          return true;
        }
        fail(`iq ${id} failed: ${stanza.slice(0, 300)}`);
        return true;
      }
      next();
      return true;
    };
    const authenticate = () => {
      const token = Buffer.from(`\0${username}\0${password}`).toString('base64');
      socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${token}</auth>`);
      step = () => {
        if (buffer.includes('<failure')) {
          fail(`SASL failure: ${buffer.slice(0, 300)}`);
          return true;
        }
        const end = buffer.indexOf('/>', buffer.indexOf('<success'));
        if (buffer.indexOf('<success') < 0 || end < 0) return false;
        buffer = '';
        openStream();
        step = afterFeatures(bind);
        return true;
      };
    };
    const bind = () => {
      socket.write(
        `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
          `<resource>${escapeXml(resource)}</resource></bind></iq>`,
      );
      step = afterIq('bind', () => {
        socket.write('<presence/>');
        step = messages;
        resolve(session);
      });
    };
    /** The steady state: every complete `<message>` stanza goes to `onMessage`; anything else is skipped. */
    const messages = () => {
      for (;;) {
        const start = buffer.indexOf('<message');
        if (start < 0) {
          // Keep only a possible partial start tag.
          buffer = buffer.slice(Math.max(0, buffer.lastIndexOf('<')));
          return false;
        }
        const close = buffer.indexOf('</message>', start);
        if (close < 0) {
          buffer = buffer.slice(start);
          return false;
        }
        const stanza = buffer.slice(start, close);
        buffer = buffer.slice(close + 10);
        const b = stanza.indexOf('<body>');
        onMessage({
          id: attribute(stanza, 'id'),
          from: attribute(stanza, 'from'),
          body: b < 0 ? '' : stanza.slice(b + 6, stanza.indexOf('</body>', b)),
        });
      }
    };
    const session = {
      /** Sends one chat message (body must be XML-safe text, e.g. base64). */
      send(to, id, body) {
        socket.write(`<message to='${to}' id='${id}' type='chat'><body>${body}</body></message>`);
      },
      set onMessage(handler) {
        onMessage = handler;
      },
      close() {
        socket.end('</stream:stream>');
        socket.destroy();
      },
      jid: `${username}@${domain}/${resource}`,
    };
    socket.on('error', (e) => fail(e.message));
    socket.on('data', (chunk) => {
      buffer += chunk;
      while (step && step()) {
        // Each step consumes what it needs and may hand over to the next.
      }
    });
    socket.on('connect', () => {
      openStream();
      step = afterFeatures(() => {
        if (!register) {
          authenticate();
          return;
        }
        socket.write(
          `<iq type='set' id='reg'><query xmlns='jabber:iq:register'>` +
            `<username>${escapeXml(username)}</username><password>${escapeXml(password)}</password></query></iq>`,
        );
        step = afterIq('reg', authenticate);
      });
    });
  });
}
