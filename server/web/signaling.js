// One signaling WebSocket (docs/protocol.md): JSON text frames, an outgoing queue until the
// socket is open, and a `ping` every 15 s. It reports what it receives and when it closes; it
// never reconnects by itself — the room controller decides that.

const PING_EVERY_MS = 15000;

export class Signaling {
  /**
   * @param {string} url ws(s)://…/api/rooms/{id}/ws
   * @param {{onMessage: (msg: object) => void, onClose: (info: {opened: boolean, code: number}) => void}} handlers
   */
  constructor(url, { onMessage, onClose }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.queue = [];
    this.ws = null;
    this.opened = false;
    this.closed = false;
    this.pingTimer = null;
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
        this.pingTimer = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
        resolve();
      });
      ws.addEventListener('message', (event) => {
        if (this.closed || typeof event.data !== 'string') return;
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
  }
}
