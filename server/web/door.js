// The owner's door in the room view: open or close it (docs/api.md, "The door") and choose
// whether friends see who is inside. Only the owner (the browser holding the host key) sees
// these controls; the server checks the key on every change.

import { setDoor } from './api.js';
import { doorText } from './logic.js';
import { $ } from './ui.js';

export class DoorControl {
  /**
   * @param {object} options
   * @param {() => string} options.roomId the current invite link id
   * @param {() => string|null} options.hostKey this browser's host key for the room
   * @param {(text: string) => void} options.toast
   */
  constructor({ roomId, hostKey, toast }) {
    this.roomId = roomId;
    this.hostKey = hostKey;
    this.toast = toast;
    this.state = null; // {door, until, show_names, door_open, people}
    this.enabled = false;
    this.busy = false;
    $('#door-toggle').addEventListener('click', () => this.change({ door: this.state?.door_open ? 'closed' : 'open' }));
    $('#names-toggle').addEventListener('change', (event) => this.change({ show_names: event.target.checked }));
  }

  /** Shows the controls for the owner (and reads the door's state), hides them for others. */
  async enable(owner) {
    this.enabled = owner && !!this.hostKey();
    this.render();
    if (this.enabled) await this.change({});
  }

  async change(change) {
    if (!this.enabled || this.busy) return;
    this.busy = true;
    $('#door-toggle').disabled = true;
    try {
      this.state = await setDoor(this.roomId(), this.hostKey(), change);
    } catch (error) {
      this.toast(`The door did not change: ${error.message}`);
    } finally {
      this.busy = false;
      $('#door-toggle').disabled = false;
      this.render();
    }
  }

  render() {
    const button = $('#door-toggle');
    button.hidden = !this.enabled;
    $('#door-settings').hidden = !this.enabled;
    const open = !!this.state?.door_open;
    button.setAttribute('aria-pressed', String(open));
    button.dataset.open = String(open);
    button.querySelector('.label').textContent = open ? 'Door open' : 'Door closed';
    button.title = open
      ? 'Friends see your door open and can drop in. Click to close it.'
      : 'Friends see your door closed. Click to open it.';
    $('#names-toggle').checked = !!this.state?.show_names;
    $('#door-status').textContent = this.state ? doorText({ ...this.state, names: null }) : '';
  }
}
