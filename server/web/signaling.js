// One signaling WebSocket (docs/protocol.md): JSON text frames, an outgoing queue until the
// socket is open, and a `ping` every 15 s, which the server must answer within 10 s or the socket
// counts as closed (one that left with an old network is never reset: it just goes silent). It
// reports what it receives and when it closes; it never reconnects by itself — the room
// controller decides that.

const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;

export class Signaling {
  /**
   * @param {string} url ws(s)://…/api/rooms/{id}/ws
   * @param {{onMessage: (msg: object) => void, onClose: (info: {opened: boolean, code: number}) => void,
   *   pingEveryMs?: number, pongWithinMs?: number}} handlers (the times: tests only)
   */
  constructor(url, { onMessage, onClose, pingEveryMs = PING_EVERY_MS, pongWithinMs = PONG_WITHIN_MS }) {
    this.pingEveryMs = pingEveryMs;
    this.pongWithinMs = pongWithinMs;
    this.url = url;
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.queue = [];
    this.ws = null;
    this.opened = false;
    this.closed = false;
    this.pingTimer = null;
    this.probes = new Set(); // resolvers of `probe` calls waiting for a word from the server
  }

  /** Opens the socket. Resolves once open; rejects if it closes or fails first. */
  open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        this.closed = true;
        reject(error);
        return;
      }
      this.ws = ws;
      ws.addEventListener('open', () => {
        if (this.closed) return;
        this.opened = true;
        for (const text of this.queue.splice(0)) ws.send(text);
        this.pingTimer = setInterval(() => {
          this.probe(this.pongWithinMs).then((alive) => {
            if (!alive) this.abandon();
          });
        }, this.pingEveryMs);
        resolve();
      });
      ws.addEventListener('message', (event) => {
        if (this.closed || typeof event.data !== 'string') return;
        this.heard();
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          console.warn('salon: ignoring a non-JSON signaling frame');
          return;
        }
        if (message && typeof message.type === 'string') this.onMessage(message);
      });
      ws.addEventListener('close', (event) => {
        const wasOpen = this.opened;
        const byUs = this.closed;
        this.stop();
        if (!wasOpen) reject(new Error('The signaling connection could not be opened.'));
        if (!byUs) this.onClose({ opened: wasOpen, code: event.code });
      });
      // 'error' is always followed by 'close', which does the work.
    });
  }

  /** Sends one message now, or once the socket opens. Dropped after close. */
  send(message) {
    if (this.closed) return;
    const text = JSON.stringify(message);
    if (this.opened && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    else this.queue.push(text);
  }

  /**
   * Whether the socket still carries anything: sends a `ping` and resolves true as soon as any
   * message arrives, false if none does within `withinMs` (or the socket is closed). A socket
   * that left with the old network after a network change is never reset: it just goes silent.
   */
  probe(withinMs) {
    if (this.closed || !this.opened) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (alive) => {
        clearTimeout(timer);
        this.probes.delete(done);
        resolve(alive);
      };
      const timer = setTimeout(() => done(false), withinMs);
      this.probes.add(done);
      this.send({ type: 'ping' });
    });
  }

  heard() {
    for (const done of [...this.probes]) done(true);
  }

  /** Gives a silent socket up: closes it and reports it through onClose at once (a socket on a
   * vanished network would take minutes to close by itself). */
  abandon() {
    if (this.closed || !this.opened) return;
    const ws = this.ws;
    this.stop();
    try {
      ws.close(4000, 'silent');
    } catch {
      // closing a socket that is already going is fine
    }
    this.onClose({ opened: true, code: 4000 });
  }

  /** Closes without reporting it through onClose. */
  close() {
    if (this.closed) return;
    const ws = this.ws;
    this.stop();
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'bye');
  }

  stop() {
    this.closed = true;
    this.opened = false;
    this.queue.length = 0;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    for (const done of [...this.probes]) done(false);
  }
}
