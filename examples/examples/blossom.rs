//! A Blossom server over `MemoryBlobStore`: a signed upload, a ranged GET, the owner's list and
//! a delete, as a client does them, over loopback. With `--serve ADDR FILE` it stores FILE
//! and serves it until killed (to point a browser, a Blossom client or a load generator at).
//!
//! `cargo run -p examples --example blossom`
//! `cargo run --release -p examples --example blossom -- --serve 127.0.0.1:8082 ./some.file`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use nostr::{EventBuilder, JsonUtil, Keys, Kind, Tag};
use swarmgate_blossom::{
    BlobStore, BlossomConfig, MemoryBlobStore, PutBlob, TokenEncoding, authorization_header, router,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Authorization: Nostr <base64url>` for a kind 24242 token.
fn token(keys: &Keys, verb: &str, sha256: &str) -> Result<String, Error> {
    let expiration = (SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 60).to_string();
    let tags = [["t", verb], ["x", sha256], ["expiration", &expiration]];
    let tags = tags
        .iter()
        .map(|tag| Tag::parse(*tag))
        .collect::<Result<Vec<_>, _>>()?;
    let event = EventBuilder::new(Kind::Custom(24242), verb)
        .tags(tags)
        .sign_with_keys(keys)?;
    Ok(authorization_header(
        event.as_json(),
        TokenEncoding::UrlSafe,
    ))
}

async fn serve(
    addr: SocketAddr,
    store: Arc<MemoryBlobStore>,
) -> Result<(String, tokio::task::JoinHandle<()>), Error> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = router(store, BlossomConfig::new(base.clone()));
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, service).await {
            eprintln!("server stopped: {error}");
        }
    });
    Ok((base, task))
}

async fn tour() -> Result<(), Error> {
    let (base, _server) = serve("127.0.0.1:0".parse()?, Arc::new(MemoryBlobStore::new())).await?;
    let keys = Keys::generate();
    let body = b"hello, blossom: a blob addressed by its sha256";
    let sha256 =
        swarmgate_core::Sha256(<sha2::Sha256 as sha2::Digest>::digest(body).into()).to_hex();
    let http = reqwest::Client::new();

    let upload = http
        .put(format!("{base}/upload"))
        .header("authorization", token(&keys, "upload", &sha256)?)
        .header("content-type", "text/plain")
        .body(&body[..])
        .send()
        .await?;
    println!(
        "PUT /upload -> {}\n{}",
        upload.status(),
        upload.text().await?
    );

    let range = http
        .get(format!("{base}/{sha256}.txt"))
        .header("range", "bytes=7-13")
        .send()
        .await?;
    println!(
        "GET with Range -> {} {:?}",
        range.status(),
        range.text().await?
    );

    let list = http
        .get(format!("{base}/list/{}", keys.public_key().to_hex()))
        .send()
        .await?;
    println!(
        "GET /list -> {} ({} bytes)",
        list.status(),
        list.text().await?.len()
    );

    let delete = http
        .delete(format!("{base}/{sha256}"))
        .header("authorization", token(&keys, "delete", &sha256)?)
        .send()
        .await?;
    println!("DELETE -> {} {}", delete.status(), delete.text().await?);
    let gone = http.get(format!("{base}/{sha256}")).send().await?;
    println!(
        "GET after delete -> {} (X-Reason: {:?})",
        gone.status(),
        gone.headers().get("x-reason")
    );
    Ok(())
}

async fn serve_file(addr: &str, path: &str) -> Result<(), Error> {
    let data = std::fs::read(path)?;
    let store = Arc::new(MemoryBlobStore::new());
    let put = PutBlob {
        max_size: u64::MAX,
        ..PutBlob::default()
    };
    let stored = store.put(&mut &data[..], &put)?;
    let (base, server) = serve(addr.parse()?, Arc::clone(&store)).await?;
    println!("{base}/{}", stored.blob.sha256);
    server.await?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.as_slice() {
        [flag, addr, path] if flag == "--serve" => runtime.block_on(serve_file(addr, path)),
        [] => runtime.block_on(tour()),
        _ => Err("usage: blossom [--serve ADDR FILE]".into()),
    }
}
