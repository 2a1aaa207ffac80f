// The clock of nostr_announce_latency.sh on the relay's side: a nostr-tools subscriber that holds
// a REQ for one author's kind 2003 events (NIP-35 torrents) and prints when each one arrives.
//
//   NODE_DIR=bins/gateway/tests/node node announce_subscriber.mjs RELAY_URL PUBKEY COUNT SECONDS
//
// NODE_DIR is a folder whose node_modules holds nostr-tools and ws (`npm ci --prefix
// bins/gateway/tests/node`). Prints `ready` once the relay has ended the stored events (EOSE),
// so the uploads can start, then one line per kind 2003 event whose id and signature verify (the
// check nostr-tools makes before `onevent`, as any client of it does):
//
//   event <x tag = v1 info-hash> <Date.now() in ms at onevent> <created_at> <event id>
//
// Exits 0 once COUNT distinct info-hashes have arrived, 1 when they have not within SECONDS of
// the start (or the connection fails), 2 on bad arguments.

import { createRequire } from "node:module";

const [relayUrl, pubkey, countText, secondsText] = process.argv.slice(2);
const count = Number(countText);
const seconds = Number(secondsText);
if (!process.env.NODE_DIR || !/^[0-9a-f]{64}$/.test(pubkey ?? "") || !(count > 0) || !(seconds > 0)) {
  console.error("usage: NODE_DIR=DIR node announce_subscriber.mjs RELAY_URL PUBKEY(hex) COUNT SECONDS");
  process.exit(2);
}

const require = createRequire(`${process.env.NODE_DIR}/package.json`);
const WebSocket = require("ws");
const { Relay, useWebSocketImplementation } = require("nostr-tools/relay");
useWebSocketImplementation(WebSocket);

const timer = setTimeout(() => {
  console.error(`FAIL: ${seen.size} of ${count} kind 2003 events within ${seconds} s`);
  process.exit(1);
}, seconds * 1000);

const seen = new Set();
let relay;
try {
  relay = await Relay.connect(relayUrl);
} catch (error) {
  console.error(`FAIL: cannot connect to ${relayUrl}: ${error}`);
  process.exit(1);
}
relay.onclose = () => {
  console.error(`FAIL: ${relayUrl} closed the connection after ${seen.size} of ${count} events`);
  process.exit(1);
};
relay.subscribe([{ kinds: [2003], authors: [pubkey] }], {
  oneose() {
    console.log("ready");
  },
  onevent(event) {
    const now = Date.now();
    const x = event.tags.find((t) => t[0] === "x")?.[1];
    if (!x) {
      console.error(`FAIL: kind 2003 event ${event.id} has no x tag`);
      process.exit(1);
    }
    console.log(`event ${x.toLowerCase()} ${now} ${event.created_at} ${event.id}`);
    seen.add(x.toLowerCase());
    if (seen.size >= count) {
      clearTimeout(timer);
      relay.onclose = null;
      relay.close();
      process.exit(0);
    }
  },
});
