// The page of a friend card opened in a browser (/friend?v=1&name=…&room=…[&presence=…]).
// Phones with the app installed open such links in the app (App Links / Universal Links); this
// page is for everyone else: it offers the app (the same card as a salon: link) and dropping in
// from the browser. The card never leaves the browser: nothing here calls the server.

import { readFriendCard } from './logic.js';
import { $, fillIcons } from './ui.js';

const card = readFriendCard(location.search);
if (card.error) {
  $('#bad-reason').textContent = card.error;
  $('#bad-card').hidden = false;
  document.title = 'Friend card not valid — Salon';
} else {
  $('#friend-title').textContent = `${card.name}'s room`;
  document.title = `${card.name}'s room — Salon`;
  // The query the page was opened with, as a card the app reads.
  // The room secret of an end-to-end encrypted room rides in the card's own fragment (never
  // sent to the server, docs/adr/0003-e2ee.md §2.1): both ways in carry it on.
  const fragment = /(?:^#|&)k=[A-Za-z0-9_-]{43}(?:&|$)/u.test(location.hash) ? location.hash : '';
  $('#open-app').href = `salon:friend${location.search}${fragment}`;
  $('#join-web').href = `${card.room.href}${fragment}`;
  if (card.room.origin !== location.origin) {
    // The room lives on another server than the one this page came from: say where it goes.
    const elsewhere = $('#elsewhere');
    elsewhere.textContent = `The room is on ${card.room.host}.`;
    elsewhere.hidden = false;
  }
  $('#card').hidden = false;
}
fillIcons();
