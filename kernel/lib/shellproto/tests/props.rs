//! Property tests of the protocol: messages survive encoding and any
//! splitting of the stream; garbage, truncated and oversized frames cost
//! only themselves (the next frame decodes); uploads give back exactly the
//! bytes sent, and an abort leaves nothing behind.

use proptest::prelude::*;
use shellproto::upload::{Limits, Uploads};
use shellproto::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn name() -> impl Strategy<Value = String> {
    // Any Unicode, zeros included: COBS must keep them out of the frame.
    "\\PC{0,24}|[a-z_]{1,12}|\0{1,3}"
}

fn reference() -> impl Strategy<Value = Ref> {
    prop_oneof![any::<u32>().prop_map(Ref::Id), name().prop_map(Ref::Name)]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u16>(), name()).prop_map(|(version, client)| Request::Hello(Hello { version, client })),
        (name(), any::<u32>()).prop_map(|(name, size)| Request::UploadBegin { name, size }),
        (any::<u32>(), any::<u32>(), bytes(3000)).prop_map(|(upload, offset, data)| Request::UploadChunk { upload, offset, data }),
        any::<u32>().prop_map(|upload| Request::UploadCommit { upload }),
        (any::<u32>(), any::<bool>())
            .prop_map(|(upload, interp)| Request::UploadCommitWith { upload, engine: if interp { Engine::Interp } else { Engine::Jit } }),
        any::<u32>().prop_map(|upload| Request::UploadAbort { upload }),
        (reference(), bytes(300)).prop_map(|(prog, arg)| Request::Exec { prog, arg }),
        reference().prop_map(|prog| Request::Unload { prog }),
        Just(Request::Progs),
        Just(Request::Maps),
        (reference(), any::<u32>()).prop_map(|(map, cursor)| Request::MapDump { map, cursor }),
        (reference(), bytes(64), bytes(64), any::<u64>()).prop_map(|(map, key, value, flags)| Request::MapUpdate { map, key, value, flags }),
        (reference(), bytes(64)).prop_map(|(map, key)| Request::MapDelete { map, key }),
        (name(), any::<u32>()).prop_map(|(pattern, limit)| Request::SymSearch { pattern, limit }),
        any::<u64>().prop_map(|addr| Request::SymAt { addr }),
        Just(Request::Info),
    ]
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    (any::<u32>(), request()).prop_map(|(id, req)| ClientMsg { id, req })
}

fn prog_info() -> impl Strategy<Value = ProgInfo> {
    (any::<u32>(), name(), name(), any::<u32>(), prop::collection::vec(any::<u32>(), 0..4), any::<u64>(), any::<u64>()).prop_map(
        |(id, name, section, insns, maps, run_count, run_time_ns)| ProgInfo {
            id,
            name,
            section,
            prog_type: ProgType::Syscall,
            object: "o.o".into(),
            object_id: id / 2,
            insns,
            maps,
            run_count,
            run_time_ns,
            engine: if id % 2 == 0 { Engine::Jit } else { Engine::Interp },
        },
    )
}

fn server_msg() -> impl Strategy<Value = ServerMsg> {
    prop_oneof![
        (any::<u32>(), prop::collection::vec(prog_info(), 0..5)).prop_map(|(id, p)| ServerMsg::Reply { id, result: Ok(Reply::Progs(p)) }),
        (any::<u32>(), any::<u64>(), any::<u64>())
            .prop_map(|(id, value, run_time_ns)| ServerMsg::Reply { id, result: Ok(Reply::Returned { value, run_time_ns }) }),
        (any::<u32>(), name(), any::<u32>(), name()).prop_map(|(id, program, insn, message)| ServerMsg::Reply {
            id,
            result: Err(ShellError::Rejected { program, section: "syscall".into(), insn, message })
        }),
        (any::<u32>(), bytes(40), bytes(40)).prop_map(|(id, key, value)| ServerMsg::Reply {
            id,
            result: Ok(Reply::MapEntries {
                map: MapInfo {
                    id: 1,
                    name: "counts".into(),
                    def: MapDef { map_type: MapType::Hash, key_size: 4, value_size: 8, max_entries: 64 },
                    entries: 1,
                    global_data: false,
                    read_only: false,
                    objects: vec![1, 2],
                },
                entries: vec![MapEntry { key, value }],
                next: Some(id),
            })
        }),
        (any::<u32>(), name(), name()).prop_map(|(prog, name, line)| ServerMsg::Event(Event::ProgOutput { prog, name, line })),
        (any::<u32>(), bytes(500)).prop_map(|(map, data)| ServerMsg::Event(Event::Ringbuf { map, map_name: "rb".into(), object: "o".into(), data })),
        Just(ServerMsg::BadFrame(FrameError::Truncated)),
        Just(ServerMsg::Reply { id: 0, result: Err(ShellError::Upload(UploadError::Incomplete { upload: 1, received: 2, size: 3 })) }),
    ]
}

/// Feeds `stream` in pieces cut at `cuts` (positions modulo the length).
fn feed<T: serde::de::DeserializeOwned>(d: &mut MessageDecoder<T>, stream: &[u8], cuts: &[usize]) -> Vec<Result<T, FrameError>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    at.push(0);
    at.push(stream.len());
    at.sort_unstable();
    at.windows(2).flat_map(|w| d.push(&stream[w[0]..w[1]])).collect()
}

fn frame<T: serde::Serialize>(m: &T) -> Vec<u8> {
    encode(m).expect("test messages fit in a frame")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn client_messages_round_trip_in_any_pieces(msgs in prop::collection::vec(client_msg(), 1..6), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let stream: Vec<u8> = msgs.iter().flat_map(frame).collect();
        let mut d = MessageDecoder::<ClientMsg>::new();
        let got = feed(&mut d, &stream, &cuts);
        prop_assert_eq!(got, msgs.into_iter().map(Ok).collect::<Vec<_>>());
        prop_assert_eq!(d.finish(), None);
    }

    #[test]
    fn server_messages_round_trip_in_any_pieces(msgs in prop::collection::vec(server_msg(), 1..6), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let stream: Vec<u8> = msgs.iter().flat_map(frame).collect();
        let mut d = MessageDecoder::<ServerMsg>::new();
        prop_assert_eq!(feed(&mut d, &stream, &cuts), msgs.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn garbage_costs_only_itself(a in client_msg(), garbage in bytes(3000), b in client_msg(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        // After garbage and one delimiter, the next frame decodes: whatever
        // the garbage decoded to (it may even be a valid message), the
        // message before it and the one after it come out intact.
        let mut stream = frame(&a);
        stream.extend(&garbage);
        stream.push(0);
        stream.extend(frame(&b));
        let mut d = MessageDecoder::<ClientMsg>::new();
        let got = feed(&mut d, &stream, &cuts);
        prop_assert_eq!(got.first(), Some(&Ok(a)));
        prop_assert_eq!(got.last(), Some(&Ok(b)));
        // Each garbage frame gives at most one result.
        prop_assert!(got.len() <= 2 + garbage.iter().filter(|&&x| x == 0).count() + 1);
        prop_assert!(d.frames().capacity() <= MAX_FRAME);
    }

    #[test]
    fn a_truncated_frame_is_reported_and_the_next_decodes(a in client_msg(), cut in any::<prop::sample::Index>(), b in client_msg()) {
        let fa = frame(&a);
        // Keep 1..len-1 bytes of the frame's body: something is lost.
        let body = fa.len() - 1;
        prop_assume!(body >= 2);
        let keep = 1 + cut.index(body - 1);
        let mut stream = fa[..keep].to_vec();
        stream.push(0);
        stream.extend(frame(&b));
        let mut d = MessageDecoder::<ClientMsg>::new();
        prop_assert_eq!(d.push(&stream), vec![Err(FrameError::Truncated), Ok(b)]);
    }

    #[test]
    fn an_oversized_frame_is_dropped_within_the_limit(len in 257usize..5000, fill in 1u8..=255, cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let b = ClientMsg { id: 7, req: Request::Progs };
        let mut stream = vec![fill; len];
        stream.push(0);
        stream.extend(frame(&b));
        let mut d = MessageDecoder::<ClientMsg>::with_max(256);
        let got = feed(&mut d, &stream, &cuts);
        prop_assert_eq!(got, vec![Err(FrameError::Oversized { max: 256 }), Ok(b)]);
        prop_assert!(d.frames().capacity() <= 256);
    }

    #[test]
    fn the_stream_ending_mid_frame_is_truncation(a in client_msg(), cut in any::<prop::sample::Index>()) {
        let fa = frame(&a);
        let keep = 1 + cut.index(fa.len() - 1);
        let mut d = MessageDecoder::<ClientMsg>::new();
        prop_assert!(d.push(&fa[..keep]).is_empty());
        prop_assert_eq!(d.finish(), Some(FrameError::Truncated));
        // A new stream starts clean.
        prop_assert_eq!(d.push(&fa), vec![Ok(a)]);
    }

    #[test]
    fn uploads_give_back_the_bytes_and_aborts_leave_nothing(
        a in prop::collection::vec(any::<u8>(), 1..5000),
        b in prop::collection::vec(any::<u8>(), 1..5000),
        chunk in 1usize..700,
        order in prop::collection::vec(any::<bool>(), 0..40),
        abort_after in any::<prop::sample::Index>(),
    ) {
        let limits = Limits { max_object: 5000, max_chunk: 700, max_uploads: 4, max_total: 20_000 };
        let mut ups = Uploads::new(limits);
        // One upload is aborted part way (a client that disconnected).
        let dropped = ups.begin("dropped.o".into(), a.len() as u32).unwrap();
        let chunks_a: Vec<&[u8]> = a.chunks(chunk).collect();
        let sent = abort_after.index(chunks_a.len());
        for (i, c) in chunks_a[..sent].iter().enumerate() {
            ups.chunk(dropped, (i * chunk) as u32, c).unwrap();
        }
        ups.abort(dropped).unwrap();
        prop_assert!(ups.is_empty());
        prop_assert_eq!(ups.held(), 0);
        prop_assert!(ups.chunk(dropped, (sent * chunk) as u32, &[1]).is_err(), "a late chunk of an aborted upload is refused");

        // Two uploads interleaved in any order come out whole.
        let ha = ups.begin("a.o".into(), a.len() as u32).unwrap();
        let hb = ups.begin("b.o".into(), b.len() as u32).unwrap();
        let mut qa = a.chunks(chunk).enumerate().peekable();
        let mut qb = b.chunks(chunk).enumerate().peekable();
        let mut pick = order.into_iter().cycle();
        while qa.peek().is_some() || qb.peek().is_some() {
            let use_a = qb.peek().is_none() || (qa.peek().is_some() && pick.next().unwrap_or(true));
            let (h, (i, c)) = if use_a { (ha, qa.next().unwrap()) } else { (hb, qb.next().unwrap()) };
            ups.chunk(h, (i * chunk) as u32, c).unwrap();
            prop_assert!(ups.held() <= limits.max_total);
        }
        let oa = ups.commit(ha).unwrap();
        let ob = ups.commit(hb).unwrap();
        prop_assert_eq!((oa.name.as_str(), oa.bytes), ("a.o", a));
        prop_assert_eq!((ob.name.as_str(), ob.bytes), ("b.o", b));
        prop_assert!(ups.is_empty());
    }
}
