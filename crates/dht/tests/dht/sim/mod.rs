//! The deterministic DHT simulation (issue 13) at a size a debug test runs quickly: nodes
//! joined through their own bootstrap on testkit's simulated UDP network, then lookups with
//! every node alive, with a fifth silent (just now, or for 16 minutes) and with a fifth
//! replaced while they run. Asserts that lookups end at the true K closest nodes wherever the
//! answers could show them, that they find the announced peers, and that a seed replays
//! exactly; speed is measured by `examples/dht_sim.rs`, not here.

mod scenario;
mod world;

use scenario::{RunConfig, Scenario, TABLE_HEADER};
use world::{World, WorldConfig};

#[test]
fn nodes_that_joined_through_their_bootstrap_know_their_closest_neighbours() {
    let world = World::build(WorldConfig::new(300, 2));
    let quality = world.table_quality(300);
    assert_eq!(quality.sampled, 300);
    // Each node looked up its own id when it joined, and pinged back the newcomers that
    // queried it: it holds (nearly) all its K closest as good nodes.
    assert!(quality.knows_closest > 0.95, "{quality:?}");
}

#[test]
fn lookups_find_the_true_closest_nodes_and_the_peers_in_every_scenario() {
    eprintln!("{TABLE_HEADER}");
    for scenario in Scenario::ALL {
        let report = scenario::run(scenario, &RunConfig::new(500, 100, 3));
        eprintln!("{}", report.row());
        let lookups = report.outcomes.len();
        assert_eq!(
            report.announced, lookups,
            "{scenario:?}: announces reached nodes"
        );
        assert_eq!(
            report.successes(),
            lookups,
            "{scenario:?}: every lookup found a peer"
        );
        // Every miss sits behind silent, dead or new entries that the answers' K places
        // went to; where the answers showed the truth, the lookup ended there.
        assert_eq!(report.missed_in_plain_sight(), 0, "{scenario:?}");
        match scenario {
            Scenario::AllAlive | Scenario::SilentAged => {
                assert_eq!(report.converged(), lookups, "{scenario:?}")
            }
            Scenario::Silent | Scenario::Churn => {
                assert!(
                    report.found_closest() > 0.95,
                    "{scenario:?}: {}",
                    report.row()
                )
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_figures() {
    let config = RunConfig::new(300, 40, 9);
    let first = scenario::run(Scenario::Churn, &config);
    let again = scenario::run(Scenario::Churn, &config);
    assert_eq!(first, again);
    let other = scenario::run(Scenario::Churn, &RunConfig::new(300, 40, 10));
    assert_ne!(first.outcomes, other.outcomes, "another seed, another run");
}
