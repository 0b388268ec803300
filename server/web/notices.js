// What everyone in a call sees of the hosts' decisions: the lock badge, the "Paused by host"
// banner during panic, and the non-blocking "… asks you to mute" prompt.

import { isHost } from './logic.js';
import { $ } from './ui.js';

/** Lock badge and panic banner for the room's state `room` ({locked, panic}) and my role. */
export function showRoomState(room, role) {
  $('#lock-badge').hidden = !room?.locked;
  const banner = $('#panic-banner');
  banner.hidden = !room?.panic;
  banner.querySelector('.detail').textContent = isHost(role)
    ? "Guests' microphones and cameras are off and the room is locked. Release panic when it's calm."
    : 'A host turned off microphones and cameras for now.';
}

export class MutePrompt {
  /** @param {{onAccept: () => void}} handlers */
  constructor({ onAccept }) {
    this.element = $('#mute-request');
    this.timer = null;
    $('#mute-accept').addEventListener('click', () => {
      this.hide();
      onAccept();
    });
    $('#mute-decline').addEventListener('click', () => this.hide());
  }

  /** "<by> asks you to mute", until answered (or a minute passes). */
  show(by) {
    $('#mute-request-text').textContent = `${by || 'A host'} asks you to mute`;
    this.element.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), 60000);
  }

  hide() {
    clearTimeout(this.timer);
    this.element.hidden = true;
  }
}
