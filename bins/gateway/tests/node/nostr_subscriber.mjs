// A Nostr subscriber written with another library than the gateway's (nostr-tools): reads back
// the gateway's announcement of one upload from a relay and checks it as NIP-35 and NIP-94
// clients would.
//
//   node nostr_subscriber.mjs RELAY_URL PUBKEY SHA256 INFO_HASH
//
// Subscribes to PUBKEY's kinds 2003 and 1063, verifies each event's id and signature, and
// checks the tags NIP-35 clients build magnets from (`x`, `title`, `tracker`) and NIP-94's (`url`,
// `m`, `x`, `size`, `magnet`, `i`, `fallback`). Prints both events as JSON; exits 1 on a failed
// check or when both have not arrived within 15 s.

import WebSocket from "ws";
import { verifyEvent } from "nostr-tools/pure";
import { Relay, useWebSocketImplementation } from "nostr-tools/relay";

useWebSocketImplementation(WebSocket);

const [relayUrl, pubkey, sha256, infoHash] = process.argv.slice(2);
if (!infoHash) {
  console.error("usage: node nostr_subscriber.mjs RELAY_URL PUBKEY SHA256 INFO_HASH");
  process.exit(2);
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
  console.log(`ok: ${message}`);
}

const tag = (event, name) => event.tags.find((t) => t[0] === name)?.[1];
const tags = (event, name) => event.tags.filter((t) => t[0] === name).map((t) => t[1]);

const relay = await Relay.connect(relayUrl);
const found = {};
const done = new Promise((resolve) => {
  relay.subscribe([{ kinds: [2003, 1063], authors: [pubkey] }], {
    onevent(event) {
      check(verifyEvent(event), `kind ${event.kind} ${event.id}: id and signature verify`);
      if (event.kind === 2003 && tag(event, "x") === infoHash) found.torrent = event;
      if (event.kind === 1063 && tag(event, "x") === sha256) found.file = event;
      if (found.torrent && found.file) resolve();
    },
  });
});
const timer = setTimeout(() => fail(`both events did not arrive in 15 s (have ${Object.keys(found)})`), 15_000);
await done;
clearTimeout(timer);

const torrent = found.torrent;
check(tag(torrent, "title")?.length > 0, "kind 2003 has a title");
check(tags(torrent, "tracker").some((t) => t.startsWith("http://") && t.endsWith("/announce")), "kind 2003 has the HTTP tracker");
check(tags(torrent, "tracker").some((t) => t.startsWith("udp://")), "kind 2003 has the UDP tracker");
const fileTag = torrent.tags.find((t) => t[0] === "file");
check(fileTag && Number(fileTag[2]) > 0, "kind 2003 has a file with its size");
// What a NIP-35 client builds: magnet:?xt=urn:btih:<x>&dn=<title>&tr=<tracker>...
const built = `magnet:?xt=urn:btih:${tag(torrent, "x")}&dn=${encodeURIComponent(tag(torrent, "title"))}` +
  tags(torrent, "tracker").map((t) => `&tr=${encodeURIComponent(t)}`).join("");
check(built.includes(infoHash), "a NIP-35 magnet can be built from x, title and tracker");

const file = found.file;
check(tag(file, "i") === infoHash, "kind 1063 has i = the info-hash");
check(tag(file, "size") === fileTag[2], "kind 1063 size equals the torrent's file size");
check(/^[a-z]+\/[a-z0-9.+-]+/i.test(tag(file, "m") ?? ""), "kind 1063 has a media type");
check((tag(file, "url") ?? "").includes(sha256), "kind 1063 url names the sha256");
check((tag(file, "magnet") ?? "").includes(`xt=urn:btih:${infoHash}`), "kind 1063 has the magnet");
check((tag(file, "magnet") ?? "").includes("ws="), "the magnet carries the web seed");
check((tag(file, "magnet") ?? "").includes("xs="), "the magnet carries the .torrent URL");
check((tag(file, "fallback") ?? "").includes(sha256), "kind 1063 fallback is the web seed");

relay.close();
console.log(JSON.stringify({ built, torrent, file }));
process.exit(0);
