//! `publish_stream`: an async body of chunks into the blocking publish, with its idle limit and
//! a body that breaks off.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use swarmgate_catalog::{CatalogError, PublishRequest, publish_stream};

use crate::stores::Harness;
use crate::{pattern, request};

fn chunks(data: &[u8]) -> Vec<Result<Bytes, String>> {
    data.chunks(100_003)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

#[tokio::test]
async fn a_streamed_body_is_published_whole() {
    let Harness { catalog, .. } = Harness::new();
    let catalog = Arc::new(catalog);
    let data = pattern(20, 3_000_000);
    let request = PublishRequest {
        expected_size: Some(data.len() as u64),
        ..request("streamed.bin")
    };
    let body = stream::iter(chunks(&data));
    let published = publish_stream(Arc::clone(&catalog), body, request, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!published.existing);
    assert_eq!(&published.entry.read(0, data.len()).unwrap()[..], &data[..]);
}

#[tokio::test]
async fn an_idle_or_broken_body_is_refused_and_leaves_nothing() {
    let harness = Harness::new();
    let Harness {
        meta,
        content,
        catalog,
        ..
    } = harness;
    let catalog = Arc::new(catalog);
    let data = pattern(21, 500_000);

    let stalls = stream::iter(chunks(&data)).chain(stream::pending());
    let error = publish_stream(
        Arc::clone(&catalog),
        stalls,
        request("stalls.bin"),
        Duration::from_millis(200),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, CatalogError::Idle { idle } if idle == Duration::from_millis(200)),
        "{error:?}"
    );

    let breaks =
        stream::iter(chunks(&data)).chain(stream::iter([Err("connection reset".to_owned())]));
    let error = publish_stream(
        Arc::clone(&catalog),
        breaks,
        request("breaks.bin"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, CatalogError::Truncated { .. }), "{error:?}");

    let leftover = Harness::over(meta, content);
    leftover.assert_empty();
}
