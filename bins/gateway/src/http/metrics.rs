//! The gateway's figures as Prometheus metrics (text format 0.0.4 at `/metrics`), through
//! prometheus-client.
//!
//! A figure the gateway counts itself is a prometheus-client [`Counter`] held by the service
//! that counts it: bumped on the request path (a relaxed atomic add), read by the JSON
//! statistics and rendered by `/metrics`, so the two can never disagree. A figure that another
//! crate keeps (the seeder's bytes, the tracker's swarms, the piece cache) or that is a state
//! (files stored, peers connected) is read when `/metrics` is asked for, through a
//! [`Snapshot`] collector. Nothing here logs; figures go to metrics, as the house style asks.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Makes a counter named `swarmgate_<name>_total` and registers it.
pub(crate) fn counter(registry: &mut Registry, name: &str, help: &str) -> Counter {
    let counter = Counter::default();
    registry.register(name, help, counter.clone());
    counter
}

/// The values one [`Snapshot`] collector writes at a scrape.
pub(crate) struct Samples<'a> {
    encoder: DescriptorEncoder<'a>,
    result: Result<(), std::fmt::Error>,
}

impl Samples<'_> {
    /// A counter (`swarmgate_<name>_total`).
    pub(crate) fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.write(name, help, &ConstCounter::new(value));
    }

    /// An integer gauge.
    pub(crate) fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.write(
            name,
            help,
            &ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)),
        );
    }

    /// A real-valued gauge.
    pub(crate) fn ratio(&mut self, name: &str, help: &str, value: f64) {
        self.write(name, help, &ConstGauge::new(value));
    }

    fn write(&mut self, name: &str, help: &str, metric: &impl EncodeMetric) {
        if self.result.is_err() {
            return;
        }
        self.result = self
            .encoder
            .encode_descriptor(name, help, None, metric.metric_type())
            .and_then(|encoder| metric.encode(encoder));
    }
}

/// A collector that reads its values when `/metrics` is scraped.
pub(crate) struct Snapshot<F> {
    name: &'static str,
    read: F,
}

impl<F> Snapshot<F>
where
    F: Fn(&mut Samples<'_>) + Send + Sync + 'static,
{
    /// Registers `read` (named `name` in debug output) with `registry`.
    pub(crate) fn register(registry: &mut Registry, name: &'static str, read: F) {
        registry.register_collector(Box::new(Snapshot { name, read }));
    }
}

impl<F> std::fmt::Debug for Snapshot<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("name", &self.name)
            .finish()
    }
}

impl<F> Collector for Snapshot<F>
where
    F: Fn(&mut Samples<'_>) + Send + Sync + 'static,
{
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut samples = Samples {
            encoder,
            result: Ok(()),
        };
        (self.read)(&mut samples);
        samples.result
    }
}

/// The whole registry in Prometheus text format 0.0.4.
pub(crate) fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; a collector's own failure leaves what it wrote.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_snapshots_render_under_the_prefix() {
        let mut registry = Registry::with_prefix("swarmgate");
        let uploads = counter(&mut registry, "uploads", "New files uploaded.");
        uploads.inc_by(3);
        Snapshot::register(&mut registry, "files", |samples| {
            samples.gauge("files", "Files stored.", 2);
            samples.counter("peer_bytes", "Bytes uploaded to peers.", 77);
            samples.ratio("cache_hit_ratio", "Piece cache hit ratio.", 0.5);
        });
        let text = render(&registry);
        for line in [
            "# TYPE swarmgate_uploads_total counter",
            "swarmgate_uploads_total 3",
            "# TYPE swarmgate_files gauge",
            "swarmgate_files 2",
            "swarmgate_peer_bytes_total 77",
            "swarmgate_cache_hit_ratio 0.5",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
    }
}
