//! Simulated TCP (no BEP): driving sans-IO state machines over a [`SimNet`] in virtual time.
//!
//! A state machine in Swarmgate takes `handle_*(now, input)` calls, emits bytes through
//! `poll_transmit` and asks to be woken through `poll_timeout`; the torrent engine also gives
//! commands (`poll_command`: dial, close, write, verify, read) and events (`poll_event`).
//! [`SimHost`] is the glue a test writes once for all its machines: hand a [`Delivery`] to the
//! machine at `delivery.node`, report the earliest timer, fire due timers, and carry out what
//! the machines ask for at [`SimNet::now`] (sends, connects and closes through the network, disk
//! work in memory). For engines, swarmgate-session's simulation harness does the carrying out
//! with the session crate's own `drive`, the loop its real drivers run. [`SimNet::drive`] then
//! alternates network events and timers in time order, each at its own instant, until the host
//! is done, the deadline passes, or nothing is left to happen.

use std::time::{Duration, Instant};

use crate::error::SimError;
use crate::net::SimNet;
use crate::types::Delivery;

/// The machines running on a network's nodes, as [`SimNet::drive`] sees them.
pub trait SimHost {
    /// Hands `delivery` to the machine at `delivery.node`, at [`SimNet::now`]; the machine may
    /// send, connect or close through `net` right away.
    fn on_delivery(&mut self, net: &mut SimNet, delivery: Delivery);

    /// The earliest instant any machine wants to be woken at (`poll_timeout`); `None` if none.
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }

    /// Called when the time from [`SimHost::poll_timeout`] has come: fire the machines' timers
    /// (`handle_timeout(net.now())`) and carry out what they then ask for (bytes to send,
    /// commands).
    fn on_timeout(&mut self, net: &mut SimNet) {
        let _ = net;
    }

    /// True when the test has seen what it waits for; the run stops there.
    fn is_done(&self) -> bool {
        false
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    /// The host said it was done; the clock stands at that moment.
    Done,
    /// The next event or timer lies past the deadline; the clock stands at the deadline.
    Deadline,
    /// No event and no timer is pending: nothing more can happen without new input; the clock
    /// stands at the deadline (see [`RunReport::last_activity`] for when things went quiet).
    Idle,
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunReport {
    /// Why it stopped.
    pub outcome: RunOutcome,
    /// Scheduler steps taken (instants at which events or timers ran).
    pub steps: u64,
    /// Deliveries handed to the host.
    pub deliveries: u64,
    /// Virtual time elapsed since the epoch when it stopped.
    pub elapsed: Duration,
    /// Virtual time (since the epoch) of the last instant at which events or timers ran; the
    /// clock at the start if none did.
    pub last_activity: Duration,
}

/// A closure as a host without timers.
struct FnHost<F>(F);

impl<F: FnMut(&mut SimNet, Delivery)> SimHost for FnHost<F> {
    fn on_delivery(&mut self, net: &mut SimNet, delivery: Delivery) {
        (self.0)(net, delivery);
    }
}

impl SimNet {
    /// Runs the network until `deadline`, calling `on_delivery` for every delivery at the
    /// virtual time it happens. See [`SimNet::drive`] for machines with timers.
    pub fn run_until<F>(&mut self, deadline: Instant, on_delivery: F) -> Result<RunReport, SimError>
    where
        F: FnMut(&mut SimNet, Delivery),
    {
        self.drive(deadline, &mut FnHost(on_delivery))
    }

    /// Runs network events and the host's timers in time order until the host is done, the
    /// deadline passes or nothing is pending. Deliveries waiting from an earlier
    /// [`SimNet::advance_to`] are handed over first.
    ///
    /// Each step runs everything due at one instant: first the network's events, then the
    /// deliveries they produced (in order), then the host's timer if it is due.
    pub fn drive<H: SimHost + ?Sized>(
        &mut self,
        deadline: Instant,
        host: &mut H,
    ) -> Result<RunReport, SimError> {
        let deadline = deadline.saturating_duration_since(self.epoch);
        let mut steps = 0u64;
        let mut deliveries = 0u64;
        let mut last_activity = self.now;
        let report = |net: &SimNet, outcome, steps, deliveries, last_activity| RunReport {
            outcome,
            steps,
            deliveries,
            elapsed: net.now,
            last_activity,
        };
        loop {
            while !host.is_done() {
                let Some(delivery) = self.poll_delivery() else {
                    break;
                };
                deliveries += 1;
                host.on_delivery(self, delivery);
            }
            if host.is_done() {
                return Ok(report(
                    self,
                    RunOutcome::Done,
                    steps,
                    deliveries,
                    last_activity,
                ));
            }
            let timer = host
                .poll_timeout()
                .map(|t| t.saturating_duration_since(self.epoch).max(self.now));
            let next = match (self.next_event_offset(), timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => {
                        self.now = self.now.max(deadline);
                        let outcome = RunOutcome::Idle;
                        return Ok(report(self, outcome, steps, deliveries, last_activity));
                    }
                },
            };
            if next > deadline {
                self.now = self.now.max(deadline);
                let outcome = RunOutcome::Deadline;
                return Ok(report(self, outcome, steps, deliveries, last_activity));
            }
            steps += 1;
            if steps > self.config.step_limit {
                return Err(SimError::StepLimit {
                    limit: self.config.step_limit,
                    at: self.now,
                });
            }
            self.run_events_until(next);
            self.now = self.now.max(next);
            last_activity = self.now;
            while !host.is_done() {
                let Some(delivery) = self.poll_delivery() else {
                    break;
                };
                deliveries += 1;
                host.on_delivery(self, delivery);
            }
            if host.is_done() {
                return Ok(report(
                    self,
                    RunOutcome::Done,
                    steps,
                    deliveries,
                    last_activity,
                ));
            }
            let due = host
                .poll_timeout()
                .is_some_and(|t| t.saturating_duration_since(self.epoch) <= self.now);
            if due {
                host.on_timeout(self);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{DeliveryKind, NodeConfig};
    use bytes::Bytes;

    /// Two nodes playing ping-pong at zero latency forever: the step limit must end it.
    #[test]
    fn a_livelock_hits_the_step_limit() {
        let config = crate::SimConfig {
            step_limit: 1_000,
            ..Default::default()
        };
        let mut net = SimNet::with_config(1, config);
        let a = net.add_node(NodeConfig::unlimited());
        let b = net.add_node(NodeConfig::unlimited());
        let (conn, _) = net.connect(a, b).expect("connect");
        net.send(conn, Bytes::from_static(b"ping")).expect("send");
        let far = net.now() + Duration::from_secs(1);
        let result = net.run_until(far, |net, d| {
            if let DeliveryKind::Data(bytes) = d.kind {
                net.send(d.conn, bytes).expect("echo");
            }
        });
        assert!(matches!(
            result,
            Err(SimError::StepLimit { limit: 1_000, .. })
        ));
        assert_eq!(net.elapsed(), Duration::ZERO);
    }

    /// A timer-only host is woken at its own times and the clock follows it.
    struct Ticker {
        next: Instant,
        fired: Vec<Duration>,
        epoch: Instant,
    }

    impl SimHost for Ticker {
        fn on_delivery(&mut self, _: &mut SimNet, _: Delivery) {}
        fn poll_timeout(&mut self) -> Option<Instant> {
            Some(self.next)
        }
        fn on_timeout(&mut self, net: &mut SimNet) {
            self.fired.push(net.now() - self.epoch);
            self.next = net.now() + Duration::from_millis(300);
        }
        fn is_done(&self) -> bool {
            self.fired.len() == 4
        }
    }

    #[test]
    fn timers_fire_at_their_instants_and_done_stops_the_run() {
        let mut net = SimNet::new(2);
        let epoch = net.epoch();
        let mut host = Ticker {
            next: epoch + Duration::from_millis(100),
            fired: Vec::new(),
            epoch,
        };
        let report = net
            .drive(epoch + Duration::from_secs(10), &mut host)
            .expect("run");
        let ms: Vec<u128> = host.fired.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [100, 400, 700, 1000]);
        assert_eq!(report.outcome, RunOutcome::Done);
        assert_eq!(report.elapsed, Duration::from_secs(1));
    }

    #[test]
    fn an_empty_network_is_idle_and_a_deadline_moves_the_clock() {
        let mut net = SimNet::new(3);
        let report = net
            .run_until(net.now() + Duration::from_secs(5), |_, _| {})
            .expect("run");
        assert_eq!(report.outcome, RunOutcome::Idle);
        assert_eq!(net.elapsed(), Duration::from_secs(5));
        assert_eq!(report.last_activity, Duration::ZERO);

        let a = net.add_node(NodeConfig::symmetric(1_000, Duration::from_secs(1)));
        let b = net.add_node(NodeConfig::unlimited());
        net.connect(a, b).expect("connect");
        let report = net
            .run_until(net.now() + Duration::from_millis(500), |_, _| {})
            .expect("run");
        assert_eq!(report.outcome, RunOutcome::Deadline);
        assert_eq!(net.elapsed(), Duration::from_millis(5_500));
        let report = net
            .run_until(net.now() + Duration::from_secs(5), |_, _| {})
            .expect("run");
        assert_eq!(report.outcome, RunOutcome::Idle);
        assert_eq!(report.last_activity, Duration::from_secs(6));
    }
}
