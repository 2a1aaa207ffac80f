//! The content store (issue 5): ingest of a 1 GiB upload against the SHA-256 rate of one core,
//! and the piece cache's hit ratio under a Zipf-like read load.
//!
//! Ingest: 1 GiB from memory into a fresh [`FsContentStore`], timed from the first byte to the
//! file being durable and visible (fsyncs included), then removed (untimed). Measured in the same
//! run as a plain single-core SHA-256 (and SHA-1) of the same bytes; the figures printed at the
//! end are the ratio of rates, ingest over SHA-256. Variants: announced size (chunks from the
//! start) or streamed (a blob until 100 MiB, then split into chunks), without (the default) or
//! with ("-sha1") the piece SHA-1s; on the disk (a tempdir under `$TMPDIR`, or
//! `SWARMGATE_BENCH_DIR`) and on tmpfs (/dev/shm, where fsync costs nothing: the CPU pipeline
//! alone). The store writes with `O_DIRECT` where the file system takes it (the default).
//!
//! Cache: a 256 MiB chunked file (128 pieces of 2 MiB); 10,000 piece reads drawn with weight
//! 1/(rank) (Zipf, s = 1), through a `PieceCache` of 16 to 128 MiB: hit ratios printed, and the
//! time of a read with and without a 64 MiB cache measured.
//!
//! Run: `cargo bench -p swarmgate-benches --bench storage`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest;
use swarmgate_blobstore::{ContentStore, FsContentStore, IngestOptions, PIECE_LENGTH, PieceSource};
use swarmgate_core::{PieceIndex, SplitMix64};
use swarmgate_storage::PieceCache;

const GIB: usize = 1 << 30;

/// Every timed run of each benchmark, for the ratios printed at the end.
static TIMES: Mutex<BTreeMap<String, Vec<Duration>>> = Mutex::new(BTreeMap::new());

fn record(name: &str, elapsed: Duration) {
    TIMES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_owned())
        .or_default()
        .push(elapsed);
}

/// The process's CPU time (user + system) so far, from /proc/self/stat (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let (user, system) = stat_cpu("/proc/self/stat");
    user + system
}

/// The user and system CPU time in a /proc `stat` file.
fn stat_cpu(path: &str) -> (Duration, Duration) {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // Fields after the command name (which may hold spaces) start at its closing parenthesis;
    // utime and stime are the 14th and 15th fields, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        let ticks = fields
            .get(i)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        Duration::from_millis(ticks * 10)
    };
    (ticks(11), ticks(12))
}

/// A thread's name and CPU time (user, system) so far.
#[derive(Clone, Default)]
struct ThreadCpu {
    name: String,
    user: Duration,
    system: Duration,
}

impl ThreadCpu {
    fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The CPU spent since `before` (the same thread earlier, if it existed).
    fn since(&self, before: Option<&ThreadCpu>) -> ThreadCpu {
        let before = before.cloned().unwrap_or_default();
        ThreadCpu {
            name: self.name.clone(),
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }
}

/// Each thread's name and CPU time so far, by thread id.
fn thread_cpu() -> BTreeMap<u64, ThreadCpu> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return BTreeMap::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let (user, system) = stat_cpu(&format!("/proc/self/task/{tid}/stat"));
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .map_or_else(|_| "?".to_owned(), |n| n.trim().to_owned());
            Some((tid, ThreadCpu { name, user, system }))
        })
        .collect()
}

/// Lines of the per-stage CPU profile, printed by `report`.
static STAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One ingest with every thread's CPU time sampled every 2 ms: the pipeline's stages. The
/// calling thread is the reader; the others are named by the store (ingest-sha256 for the
/// whole-file SHA-256, ingest-chunks, ingest-sha1, two ingest-write, ingest-sync, and the
/// commit's content-fsync folder syncs), each with its user and system (kernel) time. With a core per stage, an ingest would take as long as its
/// busiest stage.
fn profile_stages(name: &str, store: &FsContentStore, data: &[u8], options: &IngestOptions) {
    let me = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse::<u64>().ok());
    let before = thread_cpu();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let peak: Mutex<BTreeMap<u64, ThreadCpu>> = Mutex::new(BTreeMap::new());
    let (elapsed, sampler) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let own = std::fs::read_link("/proc/thread-self")
                .ok()
                .and_then(|p| p.file_name()?.to_str()?.parse::<u64>().ok());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut peak = peak.lock().unwrap_or_else(|e| e.into_inner());
                for (tid, cpu) in thread_cpu() {
                    let slot = peak.entry(tid).or_default();
                    if cpu.total() >= slot.total() {
                        *slot = cpu;
                    }
                }
                drop(peak);
                std::thread::sleep(Duration::from_millis(2));
            }
            own
        });
        let started = Instant::now();
        let ingested = store.ingest(&mut &data[..], options).expect("ingest");
        let elapsed = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        store.remove(&ingested.sha256).expect("remove");
        (elapsed, sampler.join().expect("sampler"))
    });
    let after = thread_cpu();
    let peak = peak.into_inner().unwrap_or_else(|e| e.into_inner());
    let reader = me
        .and_then(|me| Some(after.get(&me)?.since(before.get(&me))))
        .unwrap_or_default();
    let mut stages: Vec<ThreadCpu> = peak
        .iter()
        .filter(|(tid, _)| Some(**tid) != me && Some(**tid) != sampler && !before.contains_key(tid))
        .map(|(_, cpu)| cpu.clone())
        .filter(|cpu| !cpu.total().is_zero())
        .collect();
    stages.sort_unstable_by_key(|cpu| std::cmp::Reverse(cpu.total()));
    let busiest = stages
        .first()
        .map(ThreadCpu::total)
        .unwrap_or_default()
        .max(reader.total());
    let show = |label: &str, cpu: &ThreadCpu| {
        format!(
            "{label} {:.2} ({:.2} sys)",
            cpu.total().as_secs_f64(),
            cpu.system.as_secs_f64()
        )
    };
    let mut parts = vec![show("reader", &reader)];
    parts.extend(stages.iter().map(|cpu| show(&cpu.name, cpu)));
    STAGES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!(
            "  {name:<24} wall {:.2} s; CPU s per thread: {}; busiest {:.2} s",
            elapsed.as_secs_f64(),
            parts.join(", "),
            busiest.as_secs_f64()
        ));
    record(&format!("stage {name}"), busiest);
}

fn median(name: &str) -> Option<Duration> {
    let times = TIMES.lock().unwrap_or_else(|e| e.into_inner());
    let mut runs = times.get(name)?.clone();
    runs.sort();
    runs.get(runs.len() / 2).copied()
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The folders the ingest benchmark writes to: the disk, and tmpfs when there is one.
fn targets() -> Vec<(&'static str, PathBuf)> {
    let disk = std::env::var_os("SWARMGATE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut out = vec![("disk", disk)];
    if Path::new("/dev/shm").is_dir() {
        out.push(("tmpfs", PathBuf::from("/dev/shm")));
    }
    out
}

fn ingest(c: &mut Criterion) {
    let data = pattern(1, GIB);
    let mut group = c.benchmark_group("ingest-1GiB");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(GIB as u64));
    group.bench_function("sha256-one-core", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let one = Instant::now();
                black_box(sha2::Sha256::digest(&data));
                record("sha256", one.elapsed());
            }
            started.elapsed()
        });
    });
    group.bench_function("sha1-one-core", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let one = Instant::now();
                black_box(sha1::Sha1::digest(&data));
                record("sha1", one.elapsed());
            }
            started.elapsed()
        });
    });
    // Piece SHA-1s are off by default (a content store needs only its SHA-256s); the "-sha1"
    // rows are the gateway's ingest that also builds the v1 torrent from the same read.
    let variants = [
        ("announced", Some(GIB as u64), false),
        ("streamed", None, false),
        ("announced-sha1", Some(GIB as u64), true),
        ("streamed-sha1", None, true),
    ];
    for (place, dir) in targets() {
        let root = tempfile::tempdir_in(&dir).expect("a bench folder");
        let store = FsContentStore::open(root.path()).expect("open the store");
        for (variant, expected_size, piece_hashes) in variants {
            let name = format!("{place}-{variant}");
            let options = IngestOptions {
                expected_size,
                piece_hashes,
                ..IngestOptions::default()
            };
            profile_stages(&name, &store, &data, &options);
            group.bench_function(&name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let cpu = cpu_time();
                        let started = Instant::now();
                        let ingested = store.ingest(&mut &data[..], &options).expect("ingest");
                        let elapsed = started.elapsed();
                        total += elapsed;
                        record(&name, elapsed);
                        record(&format!("cpu {name}"), cpu_time().saturating_sub(cpu));
                        store.remove(&ingested.sha256).expect("remove");
                    }
                    total
                });
            });
        }
    }
    group.finish();
}

fn zipf_reads(count: usize, pieces: u32, seed: u64) -> Vec<u32> {
    let cumulative: Vec<f64> = (1..=pieces)
        .scan(0.0, |sum, rank| {
            *sum += 1.0 / f64::from(rank);
            Some(*sum)
        })
        .collect();
    let total = cumulative[cumulative.len() - 1];
    let mut rng = SplitMix64::new(seed);
    // Which piece has which rank: a fixed shuffle, so the hot pieces are spread over the file.
    let mut order: Vec<u32> = (0..pieces).collect();
    rng.shuffle(&mut order);
    (0..count)
        .map(|_| {
            let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            order[cumulative.partition_point(|&c| c < x).min(order.len() - 1)]
        })
        .collect()
}

fn cache(c: &mut Criterion) {
    const PIECES: u32 = 128;
    let root = tempfile::tempdir().expect("a bench folder");
    let store = Arc::new(FsContentStore::open(root.path()).expect("open the store"));
    let data = pattern(2, PIECES as usize * PIECE_LENGTH as usize);
    let sha256 = store
        .ingest(&mut &data[..], &IngestOptions::default())
        .expect("ingest")
        .sha256;
    let source = PieceSource::open_default(store, &sha256).expect("a piece source");
    let reads = zipf_reads(10_000, PIECES, 3);

    println!(
        "piece cache under {} Zipf (s = 1) reads of {PIECES} pieces of 2 MiB:",
        reads.len()
    );
    for capacity_mib in [16u64, 32, 64, 128] {
        let cache = PieceCache::new(capacity_mib << 20);
        for &index in &reads {
            black_box(source.read_piece_cached(&cache, PieceIndex(index), false)).ok();
        }
        let stats = cache.stats();
        println!(
            "  cache {capacity_mib:>3} MiB ({:>2} pieces, {:>4.1} % of the file): hit ratio {:.3} \
             ({} hits, {} misses, {} evictions)",
            capacity_mib / 2,
            capacity_mib as f64 / 256.0 * 100.0,
            stats.hit_ratio(),
            stats.hits,
            stats.misses,
            stats.evictions
        );
    }

    let mut group = c.benchmark_group("piece-read-zipf");
    group.throughput(Throughput::Bytes(u64::from(PIECE_LENGTH)));
    let mut next = 0usize;
    group.bench_function("uncached", |b| {
        b.iter(|| {
            next = (next + 1) % reads.len();
            black_box(source.read_piece(PieceIndex(reads[next])).expect("read"))
        });
    });
    let cache = PieceCache::new(64 << 20);
    group.bench_function("cache-64MiB", |b| {
        b.iter(|| {
            next = (next + 1) % reads.len();
            black_box(
                source
                    .read_piece_cached(&cache, PieceIndex(reads[next]), false)
                    .expect("read"),
            )
        });
    });
    group.finish();
    let stats = cache.stats();
    println!(
        "piece-read-zipf/cache-64MiB: hit ratio {:.3} over {} reads",
        stats.hit_ratio(),
        stats.hits + stats.misses
    );
}

fn report(_: &mut Criterion) {
    let Some(sha256) = median("sha256") else {
        return;
    };
    let gib = GIB as f64 / 1e6;
    let rate = |d: Duration| gib / d.as_secs_f64();
    println!("\ningest of 1 GiB, medians, in the same run:");
    println!("  sha256 one core  {:>7.0} MB/s", rate(sha256));
    if let Some(sha1) = median("sha1") {
        println!("  sha1 one core    {:>7.0} MB/s", rate(sha1));
    }
    println!(
        "  (machine load average while measuring: {})",
        load_average()
    );
    let names: Vec<String> = TIMES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .filter(|k| k.contains('-') && !k.contains(' '))
        .cloned()
        .collect();
    for name in names {
        if let Some(time) = median(&name) {
            let cpu = median(&format!("cpu {name}")).unwrap_or_default();
            println!(
                "  {name:<24} {:>7.0} MB/s = {:>5.1} % of one core's SHA-256 \
                 (CPU {:.2} s per GiB: {:.1} cores busy)",
                rate(time),
                sha256.as_secs_f64() / time.as_secs_f64() * 100.0,
                cpu.as_secs_f64(),
                cpu.as_secs_f64() / time.as_secs_f64()
            );
        }
    }
    println!("\nthe pipeline's stages (one profiled ingest each, CPU time per thread):");
    for line in STAGES.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("{line}");
    }
    println!(
        "with a core per stage an ingest takes as long as its busiest stage: at most \
         (SHA-256 time / busiest stage) of one core's SHA-256 rate:"
    );
    let names: Vec<String> = TIMES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .filter_map(|k| k.strip_prefix("stage ").map(str::to_owned))
        .collect();
    for name in names {
        if let Some(busiest) = median(&format!("stage {name}")) {
            println!(
                "  {name:<24} {:>5.1} %",
                sha256.as_secs_f64() / busiest.as_secs_f64() * 100.0
            );
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

criterion_group!(benches, ingest, cache, report);
criterion_main!(benches);
