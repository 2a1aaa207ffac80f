//! Fuzzes the Blossom request paths and descriptors: `/<sha256>[.ext]` segments,
//! `/list/<pubkey>?query` requests (and paging under them) and descriptor JSON never panic;
//! what parses formats back to what parses equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_blossom::{
    Blob, BlobDescriptor, extension_for, list_page, nip94_tags, parse_blob_segment,
    parse_list_request,
};
use swarmgate_core::Sha256;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 3 {
        0 => {
            let text = text.strip_prefix('/').unwrap_or(text);
            if let Ok((hash, extension)) = parse_blob_segment(text) {
                let formatted = match extension {
                    Some(extension) => format!("{}.{extension}", hash.to_hex()),
                    None => hash.to_hex(),
                };
                assert_eq!(parse_blob_segment(&formatted).unwrap(), (hash, extension));
            }
        }
        1 => {
            let path = text.strip_prefix("/list/").unwrap_or(text);
            let (pubkey, query) = path.split_once('?').unwrap_or((path, ""));
            if let Ok((_, query)) = parse_list_request(pubkey, query) {
                let blobs: Vec<Blob> = (0..8u8)
                    .map(|i| Blob {
                        sha256: Sha256([i; 32]),
                        size: u64::from(i),
                        mime: String::new(),
                        uploaded: 100 - u64::from(i),
                        owners: Vec::new(),
                        extra: Default::default(),
                        nip94: Vec::new(),
                    })
                    .collect();
                let limit = query.limit.unwrap_or(100).min(1000);
                let shown = list_page(&blobs, &query, limit);
                assert!(shown.len() <= limit.min(blobs.len()));
            }
        }
        _ => {
            if let Ok(descriptor) = serde_json::from_str::<BlobDescriptor>(text) {
                let _ = extension_for(&descriptor.mime);
                let tags = nip94_tags(&descriptor);
                assert!(tags.len() >= 4);
                let json = serde_json::to_string(&descriptor).expect("a descriptor serializes");
                let again: BlobDescriptor = serde_json::from_str(&json).expect("and parses back");
                assert_eq!(
                    (
                        &again.url,
                        again.sha256,
                        again.size,
                        &again.mime,
                        again.uploaded,
                        &again.nip94
                    ),
                    (
                        &descriptor.url,
                        descriptor.sha256,
                        descriptor.size,
                        &descriptor.mime,
                        descriptor.uploaded,
                        &descriptor.nip94
                    )
                );
                let keys = |d: &BlobDescriptor| d.extra.keys().cloned().collect::<Vec<_>>();
                assert_eq!(keys(&again), keys(&descriptor));
            }
        }
    }
});
