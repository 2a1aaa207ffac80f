// A real Blossom client against a running gateway: blossom-client-sdk 5.x (base64url tokens,
// `server` tags without the port) uploads, lists, fetches, mirrors, reports and deletes; then a
// token in the older form (standard padded base64, `server` with the port, as nostr-tools-made
// and older clients send) uploads too.
//
//   node blossom_client.mjs BLOSSOM_URL
//
// Run by the gateway's ignored test `blossom_client::blossom_client_sdk_round_trip` after
// `npm ci` in this folder. It serves the mirror's origin itself on 127.0.0.1 (the gateway under
// test allows private mirror origins). Prints one line per step; exits 1 at the first failure.

import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { Actions, createDeleteAuth, createMirrorAuth, createUploadAuth } from "blossom-client-sdk";
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools/pure";

const { deleteBlob, downloadBlob, hasBlob, listBlobs, mirrorBlob, reportBlobs, uploadBlob } = Actions;
const server = process.argv[2];
if (!server) {
  console.error("usage: node blossom_client.mjs BLOSSOM_URL");
  process.exit(2);
}
const deadline = setTimeout(() => fail("timed out after 60 s"), 60_000);

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
  console.log(`ok: ${message}`);
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const secret = generateSecretKey();
const pubkey = getPublicKey(secret);
const signer = async (draft) => finalizeEvent(draft, secret);

// 1. Upload through the SDK (HEAD /upload first, then PUT with a base64url token).
const bytes = randomBytes(300_000);
const hash = sha256(bytes);
const blob = new Blob([bytes], { type: "text/plain" });
const descriptor = await uploadBlob(server, blob, {
  onAuth: (srv, sha) => createUploadAuth(signer, sha, { servers: srv }),
});
check(descriptor.sha256 === hash, "upload answers the sha256 of the bytes sent");
check(descriptor.size === bytes.length, "upload answers the size");
check(/\/[0-9a-f]{64}\.[a-z0-9]+$/.test(descriptor.url), `descriptor url has an extension (${descriptor.url})`);
check(typeof descriptor.uploaded === "number", "descriptor has uploaded");
check(typeof descriptor.magnet === "string" && descriptor.magnet.startsWith("magnet:?xt=urn:btih:"), "descriptor has a magnet");
check(/^[0-9a-f]{40}$/.test(descriptor.infohash), "descriptor has the info-hash");
check(Array.isArray(descriptor.nip94) && descriptor.nip94.some((t) => t[0] === "x" && t[1] === hash), "descriptor has nip94 tags");

// 2. The same bytes again: 200, the same descriptor.
const again = await uploadBlob(server, blob, {
  onAuth: (srv, sha) => createUploadAuth(signer, sha, { servers: srv }),
});
check(again.sha256 === hash && again.url === descriptor.url, "a second upload answers the stored blob");

// 3. List by pubkey.
const listed = await listBlobs(server, pubkey);
check(listed.some((d) => d.sha256 === hash), "list/<pubkey> has the upload");

// 4. Fetch.
const response = await downloadBlob(server, hash);
const fetched = Buffer.from(await response.arrayBuffer());
check(sha256(fetched) === hash, "GET /<sha256> answers the bytes");
check(await hasBlob(server, hash), "HEAD /<sha256> finds it");

// 5. Mirror from an origin served here.
const originBytes = randomBytes(120_000);
const originHash = sha256(originBytes);
const origin = createServer((req, res) => {
  if (req.url === `/${originHash}.bin`) {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": originBytes.length });
    res.end(originBytes);
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
const originUrl = `http://127.0.0.1:${origin.address().port}/${originHash}.bin`;
const mirrored = await mirrorBlob(
  server,
  { url: originUrl, sha256: originHash, size: originBytes.length, type: "application/octet-stream", uploaded: 0 },
  { onAuth: (srv, sha) => createMirrorAuth(signer, sha, { servers: srv }) },
);
origin.close();
check(mirrored.sha256 === originHash && mirrored.size === originBytes.length, "mirror stores the origin's blob");
const mirroredBack = Buffer.from(await (await downloadBlob(server, originHash)).arrayBuffer());
check(sha256(mirroredBack) === originHash, "the mirrored blob is served byte-exact");

// 6. Report (BUD-09).
const report = finalizeEvent(
  { kind: 1984, created_at: Math.floor(Date.now() / 1000), tags: [["x", originHash, "spam"]], content: "test report" },
  secret,
);
check(verifyEvent(report), "the report is signed");
const reported = await reportBlobs([server], report);
check(reported.get(server) === true, "PUT /report is accepted");

// 7. Delete: the only owner's delete removes the blob.
await deleteBlob(server, hash, { onAuth: (srv, sha) => createDeleteAuth(signer, sha, { servers: srv }) });
check(!(await hasBlob(server, hash)), "DELETE /<sha256> by its only owner removes it");

// 8. The older token form: standard padded base64, `server` with the port.
const url = new URL(server);
const legacyBytes = randomBytes(50_001);
const legacyHash = sha256(legacyBytes);
let header;
let encodedUrl;
for (let n = 0; n < 64; n++) {
  const token = finalizeEvent(
    {
      kind: 24242,
      created_at: Math.floor(Date.now() / 1000) - 1,
      // ASCII JSON reaches base64's `+` and `/` only through characters such as `>`, `?`, `~`.
      content: `Upload legacy? ~>${"x".repeat(n)}`,
      tags: [["t", "upload"], ["x", legacyHash], ["expiration", String(Math.floor(Date.now() / 1000) + 600)], ["server", url.host]],
    },
    secret,
  );
  const json = JSON.stringify(token);
  const standard = Buffer.from(json).toString("base64");
  encodedUrl = Buffer.from(json).toString("base64url");
  // Make sure the two encodings really differ beyond padding.
  if (/[+/]/.test(standard) && standard.endsWith("=")) {
    header = `Nostr ${standard}`;
    break;
  }
}
check(header !== undefined && header.slice(6).replace(/=+$/, "") !== encodedUrl, "a standard-base64 token that differs from base64url");
const legacy = await fetch(new URL("/upload", server), {
  method: "PUT",
  headers: { authorization: header, "content-type": "application/octet-stream", "x-sha-256": legacyHash },
  body: legacyBytes,
});
check(legacy.status === 201, `standard base64 token with server host:port uploads (status ${legacy.status}, ${legacy.headers.get("x-reason") ?? ""})`);
const legacyDescriptor = await legacy.json();
check(legacyDescriptor.sha256 === legacyHash, "its descriptor names the blob");

clearTimeout(deadline);
console.log(JSON.stringify({ pubkey, uploaded: hash, mirrored: originHash, legacy: legacyHash }));
