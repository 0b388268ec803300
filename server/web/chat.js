// The room's chat (docs/protocol.md, "Reactions, hands and chat"): the Chat button with its
// unread count, the panel with the messages (name, time, text) and the box to write in, the
// owner's Clear chat. The server keeps messages for the people inside when they were sent (and
// the owner) and sends them again after `joined` (`chat_history`); messages merge by id, so a
// resume shows nothing twice. In an end-to-end encrypted room every message is sealed with the
// room secret (chat-seal.js) and opened here; one that does not open says so, never shows
// ciphertext. Text always goes in through textContent: a link or markup is shown as text.

import { ChatKeys } from './chat-seal.js';
import {
  TokenBucket, chatButtonLabel, chatMessageOf, chatTextProblem, chatTime, cleanChatText, insertionIndex, refusalWords,
} from './social-logic.js';
import { $, icon } from './ui.js';

const UNREADABLE = "Can't be read with this link";
const BUBBLE = '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M5 5h14a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-7l-5 4v-4H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2Z"/></svg>';
/** The list follows new messages while it is scrolled this close to its end. */
const STICK_PX = 48;

function element(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else if (['className', 'id', 'type', 'hidden', 'maxLength', 'rows', 'placeholder'].includes(key)) el[key] = value;
    else el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

export class Chat {
  /**
   * @param {object} o
   * @param {(message: object) => boolean} o.send sends a signaling message; false when not joined
   * @param {import('./social-logic.js').PendingRequests} o.pending the requests awaiting an answer
   */
  constructor({ send, pending }) {
    this.send = send;
    this.pending = pending;
    this.keys = new ChatKeys();
    this.encrypted = false;
    this.selfId = null;
    this.role = 'guest';
    this.paused = false;
    this.open = false;
    this.unread = 0;
    this.ids = []; // shown, ascending
    this.items = new Map(); // id → <li>
    this.seen = new Set(); // ids shown or being opened
    this.generation = 0; // goes up when the chat is cleared: late openings are dropped
    this.lastSent = '';
    this.bucket = new TokenBucket(0.5, 5, Date.now());
    this.build();
  }

  build() {
    this.button = element('button', {
      type: 'button', id: 'chat-open', className: 'control social-control', dataset: { testid: 'chat-open' },
      'aria-label': 'Chat', 'aria-expanded': 'false', 'aria-controls': 'chat-panel', title: 'Chat with the room',
    });
    this.button.innerHTML = `${BUBBLE}<span class="label">Chat</span>`;
    this.badge = element('span', {
      className: 'chat-unread', dataset: { testid: 'chat-unread' }, 'aria-hidden': 'true', hidden: true,
    });
    this.button.append(this.badge);
    $('.controls').insertBefore(this.button, $('#leave'));

    this.clearButton = element('button', {
      type: 'button', className: 'link-button', dataset: { testid: 'chat-clear' }, text: 'Clear chat', hidden: true,
    });
    const close = element('button', { type: 'button', className: 'icon-button', 'aria-label': 'Close the chat' });
    close.innerHTML = icon('close');
    this.confirm = element('div', { className: 'chat-confirm', hidden: true },
      element('p', { text: "Clear the chat for everyone? It can't be undone." }));
    const confirmYes = element('button', {
      type: 'button', className: 'danger', dataset: { testid: 'chat-clear-confirm' }, text: 'Clear',
    });
    const confirmNo = element('button', { type: 'button', text: 'Cancel' });
    this.confirm.append(element('div', { className: 'prompt-actions' }, confirmYes, confirmNo));
    this.note = element('p', { className: 'muted small chat-note' });
    this.list = element('ol', {
      className: 'chat-list', dataset: { testid: 'chat-list' }, 'aria-label': 'Messages', tabindex: '0',
    });
    this.empty = element('p', { className: 'muted small chat-empty', text: 'No messages yet.' });
    this.input = element('textarea', {
      id: 'chat-input', dataset: { testid: 'chat-input' }, maxLength: 1000, rows: 2,
      placeholder: 'Message the room', 'aria-label': 'Message', 'aria-describedby': 'chat-error chat-paused',
    });
    this.sendButton = element('button', {
      type: 'submit', id: 'chat-send', className: 'primary', dataset: { testid: 'chat-send' }, text: 'Send',
    });
    this.form = element('form', { className: 'chat-form', novalidate: '' }, this.input, this.sendButton);
    this.pausedNote = element('p', {
      id: 'chat-paused', className: 'notice chat-paused', dataset: { testid: 'chat-paused' },
      text: 'Chat is paused by a host', hidden: true,
    });
    this.error = element('p', {
      id: 'chat-error', className: 'error-text', dataset: { testid: 'chat-error' }, role: 'alert',
    });
    this.live = element('p', { className: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    this.panel = element('aside', {
      id: 'chat-panel', className: 'chat-panel card', dataset: { testid: 'chat-panel' },
      'aria-labelledby': 'chat-title', hidden: true,
    },
    element('div', { className: 'panel-head' }, element('h2', { id: 'chat-title', text: 'Chat' }), this.clearButton, close),
    this.confirm, this.note, this.list, this.empty, this.form, this.pausedNote, this.error);
    $('.stage').append(this.panel);
    // Outside the panel: new messages are heard while it is closed too.
    $('section[data-view=call]').append(this.live);

    this.button.addEventListener('click', () => this.setOpen(!this.open));
    close.addEventListener('click', () => {
      this.setOpen(false);
      this.button.focus();
    });
    this.panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        this.setOpen(false);
        this.button.focus();
      }
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter breaks the line (and an input method composing keeps its Enter).
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => { this.error.textContent = ''; });
    this.clearButton.addEventListener('click', () => {
      this.confirm.hidden = false;
      confirmNo.focus();
    });
    confirmNo.addEventListener('click', () => {
      this.confirm.hidden = true;
      this.clearButton.focus();
    });
    confirmYes.addEventListener('click', () => {
      this.confirm.hidden = true;
      if (this.send({ type: 'chat_clear' })) this.pending.sent('clear', Date.now());
      else this.error.textContent = 'Not connected: the chat was not cleared.';
    });
    this.renderButton();
    this.renderNote();
  }

  // --- keys -------------------------------------------------------------------------------------

  /** An end-to-end encrypted room's secret now (from the link, or a new link's). */
  useSecret(secret) {
    this.encrypted = true;
    this.keys.use(secret).catch((error) => console.warn('salon: no chat key', error?.name));
    this.renderNote();
  }

  /** A secret this page knew for the room earlier: it opens older messages. */
  keepSecret(secret) {
    this.keys.add(secret).catch(() => {});
  }

  // --- what the controller tells us -------------------------------------------------------------

  joined({ selfId, e2ee }) {
    this.selfId = selfId;
    // The server's first `chat_history` after `joined` is the whole chat (maybe empty).
    this.resync = true;
    if (e2ee === false) this.encrypted = false;
    this.renderNote();
  }

  setRole(role) {
    this.role = role;
    this.clearButton.hidden = role !== 'owner';
    if (role !== 'owner') this.confirm.hidden = true;
  }

  /** Panic: a guest's chat is paused. */
  setPaused(paused) {
    this.paused = paused;
    this.input.disabled = paused;
    this.sendButton.disabled = paused;
    this.pausedNote.hidden = !paused;
  }

  /**
   * `chat_history {messages}`: kept messages, oldest first (again after a resume). The first
   * after `joined` is the whole chat: what is shown and not in it goes (a chat the owner cleared
   * while this page was away).
   */
  history(messages) {
    if (!Array.isArray(messages)) return;
    if (this.resync) {
      this.resync = false;
      const kept = new Set(messages.map((m) => m?.id));
      if (this.ids.some((id) => !kept.has(id))) this.forget();
    }
    for (const m of messages) this.add(m, { live: false });
  }

  /** `chat {message}`: a new message (mine too). */
  message(message) {
    this.add(message, { live: true });
  }

  /** Drops every message shown (and any still being opened). */
  forget() {
    this.generation += 1;
    this.ids = [];
    this.items.clear();
    this.seen.clear();
    this.list.replaceChildren();
    this.unread = 0;
    this.empty.textContent = 'No messages yet.';
    this.empty.hidden = false;
    this.renderButton();
  }

  /** `chat_cleared`: the owner deleted the chat. */
  cleared() {
    this.forget();
    this.empty.textContent = 'The chat was cleared.';
    this.empty.hidden = false;
    this.pending.answered('clear', Date.now());
    this.renderButton();
  }

  /** A non-fatal `error` that answered my `chat` or `clear`. */
  refused(request, message) {
    if (request.kind === 'chat' && request.detail && !this.input.value) {
      // Nothing was sent: the text comes back to be sent again.
      this.input.value = request.detail;
    }
    this.error.textContent = refusalWords(request.kind, message.code) ?? sentence(message.message);
  }

  /** Out of the call: the panel closes; the messages stay until the page is left. */
  reset() {
    this.setOpen(false);
    this.confirm.hidden = true;
    this.setPaused(false);
    this.selfId = null;
  }

  // --- sending ----------------------------------------------------------------------------------

  async submit() {
    if (this.paused) return;
    const text = cleanChatText(this.input.value);
    const problem = chatTextProblem(text);
    if (problem) {
      if (text) this.error.textContent = problem;
      return;
    }
    const now = Date.now();
    if (!this.bucket.take(now)) {
      this.error.textContent = refusalWords('chat', 'rate_limited');
      return;
    }
    let message;
    if (this.encrypted) {
      try {
        message = { type: 'chat_send', sealed: await this.keys.seal(text) };
      } catch {
        this.error.textContent = "Can't encrypt the message in this browser: it was not sent.";
        return;
      }
    } else {
      message = { type: 'chat_send', text };
    }
    if (!this.send(message)) {
      this.bucket.giveBack();
      this.error.textContent = 'Not connected: your message was not sent. Try again in a moment.';
      return;
    }
    this.pending.sent('chat', now, text);
    this.error.textContent = '';
    if (cleanChatText(this.input.value) === text) this.input.value = '';
  }

  // --- showing ----------------------------------------------------------------------------------

  setOpen(open) {
    this.open = open;
    this.panel.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    const stage = $('.stage');
    if (open) stage.dataset.chat = 'open';
    else delete stage.dataset.chat;
    if (open) {
      this.unread = 0;
      this.renderButton();
      this.scrollToEnd();
      if (!this.input.disabled) this.input.focus();
    }
  }

  renderButton() {
    const label = chatButtonLabel(this.unread);
    this.button.setAttribute('aria-label', label);
    this.badge.hidden = this.unread <= 0;
    this.badge.textContent = this.unread > 99 ? '99+' : String(this.unread);
  }

  renderNote() {
    this.note.textContent = this.encrypted
      ? "End-to-end encrypted. Kept for the people here when it's sent, and the room's owner."
      : "Kept for the people here when it's sent, and the room's owner.";
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  async add(raw, { live }) {
    const m = chatMessageOf(raw);
    if (!m) return;
    const mine = m.from === this.selfId;
    // My message came back: that request is answered (before any await: errors keep their order).
    if (mine && live) this.pending.answered('chat', Date.now());
    if (this.seen.has(m.id)) return;
    this.seen.add(m.id);
    const generation = this.generation;
    let text = m.text;
    let readable = true;
    if (m.sealed !== null) {
      const opened = await this.keys.open(m.sealed).catch(() => ({ error: 'forged' }));
      if (opened.text === undefined) readable = false;
      else text = opened.text;
    }
    if (generation !== this.generation) return;
    const item = this.render(m, readable ? cleanChatText(text) : null, mine);
    const at = insertionIndex(this.ids, m.id);
    if (at < 0) return;
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < STICK_PX;
    this.list.insertBefore(item, at < this.ids.length ? this.items.get(this.ids[at]) : null);
    this.ids.splice(at, 0, m.id);
    this.items.set(m.id, item);
    this.empty.hidden = true;
    if (stick || mine) this.scrollToEnd();
    if (live && !mine) {
      if (!this.open) {
        this.unread += 1;
        this.renderButton();
      }
      this.live.textContent = `${m.name}: ${readable ? cleanChatText(text) : UNREADABLE}`;
    }
  }

  render(m, text, mine) {
    const item = element('li', {
      className: 'chat-message', dataset: { testid: 'chat-message', id: String(m.id), from: m.from, name: m.name },
    });
    if (mine) item.dataset.mine = 'true';
    const time = element('time', { text: chatTime(m.at, Date.now()) });
    if (m.at > 0) time.setAttribute('datetime', new Date(m.at).toISOString());
    const name = element('span', { className: 'chat-name', text: mine ? `${m.name} (You)` : m.name });
    const body = element('p', { className: 'chat-text', dir: 'auto' });
    if (text === null) {
      body.classList.add('unreadable');
      body.dataset.unreadable = 'true';
      body.textContent = UNREADABLE;
    } else {
      body.textContent = text;
    }
    item.append(element('div', { className: 'chat-meta' }, name, time), body);
    return item;
  }

  /** For tests and debugging: the messages shown ([{id, name, text, unreadable}]). */
  snapshot() {
    return this.ids.map((id) => {
      const item = this.items.get(id);
      const body = item.querySelector('.chat-text');
      return {
        id, from: item.dataset.from, name: item.dataset.name, text: body.textContent,
        unreadable: body.dataset.unreadable === 'true',
      };
    });
  }
}

function sentence(text) {
  const t = String(text ?? '').trim();
  return t.charAt(0).toLocaleUpperCase() + t.slice(1);
}
