//! The KRPC keys beyond BEP 5's examples: announce_peer's ports and `implied_port`, BEP 32
//! `want` and `nodes6`, BEP 51 `sample_infohashes`, BEP 33 scrapes, and the limits on
//! `values`, `nodes` and `samples`.

use std::net::SocketAddr;

use swarmgate_dht::{
    Body, InvalidField, KrpcError, KrpcLimits, Message, Method, NodeId, NodeInfo, Problem, Query,
    Response, Want,
};

use crate::krpc::{
    ANSWERER, HASH, aa, assert_canonical, decode, encode, malformed, query, values_response,
};

#[test]
fn announce_peer_ports_and_the_implied_port_trap() {
    let announce = |args: &str| {
        let a = format!(
            "d1:ad2:id20:abcdefghij0123456789{args}9:info_hash20:mnopqrstuvwxyz1234565:token2:tke1:q13:announce_peer1:t2:aa1:y1:qe"
        );
        decode(a.as_bytes())
    };
    let port_of = |m: Message| match m.body {
        Body::Query(Query {
            method: Method::AnnouncePeer {
                port, implied_port, ..
            },
            ..
        }) => (port, implied_port),
        other => panic!("{other:?}"),
    };
    // `implied_port` is its own key: a real decoder never reads `port` out of it.
    assert_eq!(
        port_of(announce("12:implied_porti1e4:porti6881e").unwrap()),
        (6881, true)
    );
    assert_eq!(port_of(announce("12:implied_porti1e").unwrap()), (0, true));
    assert_eq!(
        port_of(announce("12:implied_porti1e4:porti0e").unwrap()),
        (0, true)
    );
    assert_eq!(
        port_of(announce("12:implied_porti0e4:porti80e").unwrap()),
        (80, false)
    );
    for (args, problem) in [
        ("4:porti0e", Problem::OutOfRange { value: 0 }),
        (
            "12:implied_porti0e4:porti0e",
            Problem::OutOfRange { value: 0 },
        ),
        ("4:porti65536e", Problem::OutOfRange { value: 65536 }),
        ("4:porti-1e", Problem::OutOfRange { value: -1 }),
        ("12:implied_porti0e", Problem::Missing),
        (
            "4:port4:6881",
            Problem::WrongType {
                expected: "an integer",
            },
        ),
    ] {
        match announce(args) {
            Err(err @ KrpcError::Malformed { is_query: true, .. }) => {
                let KrpcError::Malformed { reason, .. } = &err else {
                    unreachable!()
                };
                assert_eq!(
                    reason,
                    &InvalidField {
                        field: "port",
                        problem
                    },
                    "{args}"
                );
                let reply = err.reply().expect("answered");
                assert!(
                    matches!(reply.body, Body::Error { code: 203, .. }),
                    "{args}"
                );
                assert_eq!(reply.transaction_id, b"aa");
            }
            other => panic!("{args}: {other:?}"),
        }
    }
    let seed = announce("4:porti1e4:seedi1e").unwrap();
    let bytes = encode(&seed);
    assert!(bytes.windows(9).any(|w| w == b"4:seedi1e"));
    assert_eq!(decode(&bytes).unwrap(), seed);
}

#[test]
fn bep32_want_and_nodes6() {
    let find_node = |want: &str| {
        let bytes = format!(
            "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456{want}e1:q9:find_node1:t2:aa1:y1:qe"
        );
        decode(bytes.as_bytes()).map(|m| match m.body {
            Body::Query(Query {
                method: Method::FindNode { want, .. },
                ..
            }) => want,
            other => panic!("{other:?}"),
        })
    };
    let both = Want { v4: true, v6: true };
    assert_eq!(find_node("").unwrap(), None, "absent stays distinguishable");
    assert_eq!(find_node("4:wantle").unwrap(), Some(Want::default()));
    assert_eq!(
        find_node("4:wantl2:n6e").unwrap(),
        Some(Want {
            v4: false,
            v6: true
        })
    );
    assert_eq!(find_node("4:wantl2:n42:n6e").unwrap(), Some(both));
    assert_eq!(
        find_node("4:wantl2:n6i4e2:n5e").unwrap(),
        Some(Want {
            v4: false,
            v6: true
        })
    );
    assert!(matches!(
        find_node("4:want2:n4"),
        Err(KrpcError::Malformed {
            reason: InvalidField { field: "want", .. },
            ..
        })
    ));
    let message = aa(query(Method::FindNode {
        target: ANSWERER,
        want: Some(both),
    }));
    let bytes = encode(&message);
    assert!(bytes.windows(16).any(|w| w == b"4:wantl2:n42:n6e"));

    let mut response = Response::new(ANSWERER);
    response.nodes6 = vec![
        NodeInfo {
            id: NodeId([6; 20]),
            addr: "[2001:db8::6]:6881".parse().unwrap(),
        },
        NodeInfo {
            id: NodeId([7; 20]),
            addr: "[::ffff:192.0.2.7]:6881".parse().unwrap(),
        },
    ];
    let message = aa(Body::Response(response));
    let bytes = encode(&message);
    assert!(bytes.windows(10).any(|w| w == b"6:nodes676"));
    assert_eq!(decode(&bytes).unwrap(), message);
    let bad = b"d1:rd2:id20:mnopqrstuvwxyz1234566:nodes637:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaae1:t2:aa1:y1:re";
    assert_eq!(
        malformed(bad).1,
        InvalidField {
            field: "nodes6",
            problem: Problem::WrongLength {
                expected: "a multiple of 38",
                actual: 37
            }
        }
    );
}

#[test]
fn bep51_sample_infohashes() {
    let request = b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q17:sample_infohashes1:t2:aa1:y1:qe";
    let sample = Method::SampleInfohashes {
        target: ANSWERER,
        want: None,
    };
    assert_canonical(request, &aa(query(sample)));

    let mut response = Response::new(ANSWERER);
    response.interval = Some(21_600);
    response.num = Some(2);
    response.samples = Some(vec![[0xe3; 20], [0x45; 20]]);
    response.nodes = vec![NodeInfo {
        id: NodeId([9; 20]),
        addr: "192.0.2.9:6881".parse().unwrap(),
    }];
    let message = aa(Body::Response(response.clone()));
    let bytes = encode(&message);
    assert_eq!(decode(&bytes).unwrap(), message);

    response.samples = Some(Vec::new());
    response.num = Some(0);
    response.nodes.clear();
    let empty = aa(Body::Response(response));
    let bytes = encode(&empty);
    assert_eq!(
        bytes,
        b"d1:rd2:id20:mnopqrstuvwxyz1234568:intervali21600e3:numi0e7:samples0:e1:t2:aa1:y1:re"
    );
    assert_eq!(decode(&bytes).unwrap(), empty);

    let (_, reason) = malformed(b"d1:rd2:id20:mnopqrstuvwxyz1234567:samples3:abce1:t2:aa1:y1:re");
    assert_eq!(reason.field, "samples");
    let (_, reason) = malformed(b"d1:rd2:id20:mnopqrstuvwxyz1234563:numi-1ee1:t2:aa1:y1:re");
    assert_eq!(
        reason,
        InvalidField {
            field: "num",
            problem: Problem::OutOfRange { value: -1 }
        }
    );
    let mut many = b"d1:rd2:id20:mnopqrstuvwxyz1234567:samples220:".to_vec();
    many.extend_from_slice(&[0xab; 220]);
    many.extend_from_slice(b"e1:t2:aa1:y1:re");
    let few = KrpcLimits {
        max_samples: 10,
        ..KrpcLimits::default()
    };
    assert!(matches!(
        Message::decode(&many, &few),
        Err(KrpcError::Malformed {
            reason: InvalidField {
                field: "samples",
                problem: Problem::TooMany {
                    limit: 10,
                    actual: 11
                }
            },
            ..
        })
    ));
    assert!(decode(&many).is_ok());
}

#[test]
fn bep33_scrape_request_and_response() {
    let request = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234566:noseedi1e6:scrapei1ee1:q9:get_peers1:t2:aa1:y1:qe";
    let scrape = Method::GetPeers {
        info_hash: HASH,
        want: None,
        scrape: true,
        noseed: true,
    };
    assert_canonical(request, &aa(query(scrape)));

    let mut response = Response::new(ANSWERER);
    response.token = Some(b"tok".to_vec());
    response.seeds_bloom = Some(Box::new([0x5a; 256]));
    response.peers_bloom = Some(Box::new([0xa5; 256]));
    let message = aa(Body::Response(response));
    let bytes = encode(&message);
    assert!(bytes.starts_with(b"d1:rd4:BFpe256:\xa5"));
    assert_eq!(decode(&bytes).unwrap(), message);
    let mut short = b"d1:rd4:BFsd255:".to_vec();
    short.extend_from_slice(&[0; 255]);
    short.extend_from_slice(b"2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
    assert_eq!(
        malformed(&short).1,
        InvalidField {
            field: "BFsd",
            problem: Problem::WrongLength {
                expected: "256",
                actual: 255
            }
        }
    );
}

#[test]
fn oversized_and_malformed_values_are_refused() {
    let peers = |n: usize| -> Vec<SocketAddr> {
        (0..n)
            .map(|i| SocketAddr::from(([10, 0, (i / 256) as u8, i as u8], 6881)))
            .collect()
    };
    let at_limit = values_response(&peers(100));
    assert_eq!(decode(&encode(&at_limit)).unwrap(), at_limit);
    let over = encode(&values_response(&peers(101)));
    assert!(over.len() < 1500, "the count limit binds, not the size");
    assert_eq!(
        malformed(&over).1,
        InvalidField {
            field: "values",
            problem: Problem::TooMany {
                limit: 100,
                actual: 101
            }
        }
    );
    let mixed = values_response(&[
        "192.0.2.1:1".parse().unwrap(),
        "[2001:db8::1]:2".parse().unwrap(),
    ]);
    assert_eq!(decode(&encode(&mixed)).unwrap(), mixed);
    for bad in [
        &b"6:valuesl7:abcdefge"[..],
        b"6:valuesli5ee",
        b"6:values6:abcdef",
    ] {
        let bytes = [
            &b"d1:rd2:id20:mnopqrstuvwxyz123456"[..],
            bad,
            b"e1:t2:aa1:y1:re",
        ]
        .concat();
        assert_eq!(malformed(&bytes).1.field, "values");
    }
    let mut nodes = b"d1:rd2:id20:mnopqrstuvwxyz1234565:nodes858:".to_vec();
    nodes.extend_from_slice(&[1; 858]);
    nodes.extend_from_slice(b"e1:t2:aa1:y1:re");
    assert_eq!(
        malformed(&nodes).1.problem,
        Problem::TooMany {
            limit: 32,
            actual: 33
        }
    );
}
