//! The DHT simulation's scenarios and figures (issue 13): build a world, announce the targets,
//! then run get_peers lookups with every node alive, with a share of the nodes silent, or with
//! that share replaced by newcomers while the lookups run; and sum up what each lookup cost.
//!
//! Shared by the integration test and the big run, like `world.rs`.

use std::fmt::Write as _;
use std::time::Duration;

use swarmgate_core::InfoHashV1;

use swarmgate_dht::K;

use super::world::{World, WorldConfig};

/// What happens to the network around the lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scenario {
    /// Every node alive.
    AllAlive,
    /// A share of the nodes (chosen at random) silent from just before the lookups: every
    /// table still lists them as good, and some held the announced peers.
    Silent,
    /// The same share silent since [`AGED`] before the announces: the tables have had the
    /// time BEP 5 gives them to stop calling those nodes good.
    SilentAged,
    /// A share of the nodes killed at random times while the lookups run, and as many
    /// newcomers joining.
    Churn,
}

/// How long the nodes of [`Scenario::SilentAged`] have been silent when the announces start:
/// a node is good for 15 minutes after its last answer.
pub(crate) const AGED: Duration = Duration::from_secs(16 * 60);

impl Scenario {
    /// Every scenario, in the order they are reported.
    pub(crate) const ALL: [Scenario; 4] = [
        Scenario::AllAlive,
        Scenario::Silent,
        Scenario::SilentAged,
        Scenario::Churn,
    ];

    /// A short name for tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::AllAlive => "all alive",
            Scenario::Silent => "silent",
            Scenario::SilentAged => "silent for 16 min",
            Scenario::Churn => "churn",
        }
    }
}

/// How a scenario runs.
#[derive(Clone, Debug)]
pub(crate) struct RunConfig {
    /// The network.
    pub(crate) world: WorldConfig,
    /// Lookups to run, each of its own info-hash, announced beforehand by a random node.
    pub(crate) lookups: usize,
    /// Time between two lookups' starts (from random nodes that joined `world::JOINING` ago or
    /// more: a newcomer's table may still be empty).
    pub(crate) lookup_every: Duration,
    /// The share of nodes silent (`Silent`) or replaced (`Churn`).
    pub(crate) share: f64,
    /// How long to run after the last lookup started, for the last ones to end.
    pub(crate) tail: Duration,
}

impl RunConfig {
    /// `lookups` lookups on `nodes` nodes from `seed`: one every 50 ms, a share of 20 %.
    pub(crate) fn new(nodes: usize, lookups: usize, seed: u64) -> Self {
        RunConfig {
            world: WorldConfig::new(nodes, seed),
            lookups,
            lookup_every: Duration::from_millis(50),
            share: 0.2,
            tail: Duration::from_secs(30),
        }
    }
}

/// One get_peers lookup, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// It ended (within the run).
    pub(crate) done: bool,
    /// Rounds (the deepest hop queried).
    pub(crate) rounds: u32,
    /// Queries sent.
    pub(crate) queries: u32,
    /// Virtual time from the start to LookupDone.
    pub(crate) time: Duration,
    /// Virtual time from the start to the first peer, if one came.
    pub(crate) first_peer: Option<Duration>,
    /// How many of the K nodes it ended with are the true K closest.
    pub(crate) found_closest: usize,
    /// It ended with exactly the true K closest nodes, closest first.
    pub(crate) converged: bool,
    /// It missed a node of the true K closest that was not new (joined `world::JOINING` or more before) and that
    /// no silent, dead or new node stood in front of: a miss the answers do not explain.
    pub(crate) missed_in_plain_sight: bool,
}

impl Outcome {
    /// It ended and found a peer of its info-hash: what get_peers is for.
    pub(crate) fn succeeded(&self) -> bool {
        self.done && self.first_peer.is_some()
    }
}

/// A scenario's result.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Report {
    /// Which.
    pub(crate) scenario: Scenario,
    /// Nodes running when the lookups started.
    pub(crate) running: usize,
    /// Of the K closest running nodes of a sample of members, the share their tables hold
    /// as good nodes, after the build.
    pub(crate) knows_closest: f64,
    /// Good nodes per table after the build, on average.
    pub(crate) good_per_table: f64,
    /// Announces that reached at least one node, of `lookups`.
    pub(crate) announced: usize,
    /// Each lookup, in start order.
    pub(crate) outcomes: Vec<Outcome>,
}

/// Something the scenario does at a given time.
#[derive(Clone, Copy, Debug)]
enum Action {
    Lookup(usize),
    Kill,
    Join,
}

/// Builds the world and runs `scenario` on it.
pub(crate) fn run(scenario: Scenario, config: &RunConfig) -> Report {
    let mut world = World::build(config.world.clone());
    let quality = world.table_quality(200);
    let share = (world.running() as f64 * config.share).round() as usize;
    if scenario == Scenario::SilentAged {
        silence(&mut world, share);
        world.run_until(world.elapsed() + AGED);
    }
    let targets: Vec<InfoHashV1> = (0..config.lookups)
        .map(|_| {
            let mut hash = [0u8; 20];
            world.rng().fill_bytes(&mut hash);
            InfoHashV1(hash)
        })
        .collect();
    let announced = announce(&mut world, &targets);
    if scenario == Scenario::Silent {
        silence(&mut world, share);
    }
    let running = world.running();
    let start = world.elapsed();
    let span = config.lookup_every * config.lookups as u32;
    let mut actions: Vec<(Duration, Action)> = (0..config.lookups)
        .map(|n| (start + config.lookup_every * n as u32, Action::Lookup(n)))
        .collect();
    if scenario == Scenario::Churn {
        let span_nanos = span.as_nanos() as u64;
        for action in [Action::Kill, Action::Join] {
            for _ in 0..share {
                let at = Duration::from_nanos(world.rng().below(span_nanos));
                actions.push((start + at, action));
            }
        }
    }
    // Stable: simultaneous actions keep the order above.
    actions.sort_by_key(|(at, _)| *at);
    let mut lookups = Vec::with_capacity(config.lookups);
    for (at, action) in actions {
        world.run_until(at);
        match action {
            Action::Lookup(n) => {
                let asker = world.random_joined().expect("a running node");
                lookups.push(world.get_peers(asker, targets[n]));
            }
            Action::Kill => kill_one(&mut world),
            Action::Join => {
                world.join();
            }
        }
    }
    world.run_until(start + span + config.tail);
    Report {
        scenario,
        running,
        knows_closest: quality.knows_closest,
        good_per_table: quality.good,
        announced,
        outcomes: lookups.iter().map(|&r| judge(&world, r)).collect(),
    }
}

/// Announces each target from a random running node, 10 ms apart, and waits 30 s for them
/// to end; returns how many reached at least one node.
fn announce(world: &mut World, targets: &[InfoHashV1]) -> usize {
    let mut announces = Vec::with_capacity(targets.len());
    for target in targets {
        world.run_until(world.elapsed() + Duration::from_millis(10));
        let announcer = world.random_joined().expect("a running node");
        announces.push(world.announce(announcer, *target));
    }
    world.run_until(world.elapsed() + Duration::from_secs(30));
    announces
        .iter()
        .filter(|&&r| {
            let done = world.records()[r].done.as_ref();
            done.is_some_and(|d| d.announced_to > 0)
        })
        .count()
}

/// Silences `count` running nodes chosen at random.
fn silence(world: &mut World, count: usize) {
    for _ in 0..count {
        let member = world.random_running().expect("a running node");
        world.silence(member);
    }
}

/// Kills a random running node that is not waiting for a lookup of its own (that lookup's
/// figures would be lost, not worse).
fn kill_one(world: &mut World) {
    for _ in 0..100 {
        let member = world.random_running().expect("a running node");
        if !world.is_asking(member) {
            world.kill(member);
            return;
        }
    }
}

fn judge(world: &World, record: usize) -> Outcome {
    let watched = &world.records()[record];
    let Some(done) = &watched.done else {
        return Outcome {
            done: false,
            rounds: 0,
            queries: 0,
            time: Duration::MAX,
            first_peer: watched.first_peer,
            found_closest: 0,
            converged: false,
            missed_in_plain_sight: false,
        };
    };
    let truth = world.truth(record).expect("done");
    let missed_in_plain_sight = truth
        .iter()
        .filter(|n| !done.closest.contains(n) && !world.is_new(record, n))
        .any(|n| world.overall_rank(record, n).is_some_and(|rank| rank < K));
    Outcome {
        done: true,
        rounds: done.stats.rounds,
        queries: done.stats.queries,
        time: done.after,
        first_peer: watched.first_peer,
        found_closest: done.closest.iter().filter(|n| truth.contains(n)).count(),
        converged: done.closest == truth,
        missed_in_plain_sight,
    }
}

/// The value at percentile `p` (nearest rank) of `values`; `None` when empty.
pub(crate) fn percentile<T: Copy + Ord>(values: &[T], p: f64) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

impl Report {
    /// Lookups that ended and found a peer.
    pub(crate) fn successes(&self) -> usize {
        self.outcomes.iter().filter(|o| o.succeeded()).count()
    }

    /// Lookups that ended with the true K closest nodes.
    pub(crate) fn converged(&self) -> usize {
        self.outcomes.iter().filter(|o| o.converged).count()
    }

    /// Lookups that missed a true closest node no stale or new entry stood in front of.
    pub(crate) fn missed_in_plain_sight(&self) -> usize {
        let missed = self.outcomes.iter().filter(|o| o.missed_in_plain_sight);
        missed.count()
    }

    /// Of all the true K closest nodes, the share the lookups ended with.
    pub(crate) fn found_closest(&self) -> f64 {
        let found: usize = self.outcomes.iter().map(|o| o.found_closest).sum();
        found as f64 / (self.outcomes.len() * K).max(1) as f64
    }

    /// (median, 95th percentile) of a figure over the lookups that give it.
    pub(crate) fn spread<T>(&self, figure: impl Fn(&Outcome) -> Option<T>) -> (T, T)
    where
        T: Copy + Ord + Default,
    {
        let values: Vec<T> = self.outcomes.iter().filter_map(figure).collect();
        (
            percentile(&values, 50.0).unwrap_or_default(),
            percentile(&values, 95.0).unwrap_or_default(),
        )
    }

    /// One row of the results table (see [`TABLE_HEADER`]).
    pub(crate) fn row(&self) -> String {
        let (rounds, rounds95) = self.spread(|o| o.done.then_some(o.rounds));
        let (queries, queries95) = self.spread(|o| o.done.then_some(o.queries));
        let (time, time95) = self.spread(|o| o.done.then_some(o.time.as_millis()));
        let (peer, peer95) = self.spread(|o| o.first_peer.map(|t| t.as_millis()));
        let mut row = String::new();
        let _ = write!(
            row,
            "| {} | {} | {rounds} / {rounds95} | {queries} / {queries95} | {time} / {time95} | \
             {peer} / {peer95} | {} of {} | {} | {:.1} % | {} |",
            self.scenario.name(),
            self.running,
            self.successes(),
            self.outcomes.len(),
            self.converged(),
            self.found_closest() * 100.0,
            self.missed_in_plain_sight(),
        );
        row
    }
}

/// The header of the results table, Markdown.
pub(crate) const TABLE_HEADER: &str = "\
| scenario | running nodes | rounds, median / p95 | queries, median / p95 \
| virtual ms to LookupDone, median / p95 | virtual ms to the first peer, median / p95 \
| found a peer | converged to the true K closest | true K closest found \
| misses in plain sight |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
